"""Key material import (BYOK): RSA wrapping key pairs and unwrapping what a client wrapped with them.

Algorithms are AWS's: RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256 (material encrypted directly with
RSA-OAEP, the same hash for MGF1, no label) and RSA_AES_KEY_WRAP_SHA_1 / _SHA_256 (a 256-bit AES
key encrypted with RSA-OAEP, followed by the material wrapped under it with AES Key Wrap with
Padding, RFC 5649).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding

WRAPPING_KEY_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
_OAEP_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "RSAES_OAEP_SHA_1": hashes.SHA1,
    "RSAES_OAEP_SHA_256": hashes.SHA256,
    "RSA_AES_KEY_WRAP_SHA_1": hashes.SHA1,
    "RSA_AES_KEY_WRAP_SHA_256": hashes.SHA256,
}
WRAPPING_ALGORITHMS = tuple(_OAEP_HASHES)
_AES_KEY_BYTES = 32


class UnwrapFailed(Exception):
    """The wrapped material did not open under the wrapping key. No detail, on purpose."""


def generate_wrapping_key(spec: str) -> tuple[bytes, bytes]:
    """A fresh RSA wrapping key pair: (DER PKCS#8 private key, DER SubjectPublicKeyInfo)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=WRAPPING_KEY_BITS[spec])
    private = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def unwrap(algorithm: str, private_pkcs8: bytes, wrapped: bytes) -> bytes:
    """The material a client wrapped with the public half of ``private_pkcs8``."""
    key = serialization.load_der_private_key(private_pkcs8, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UnwrapFailed
    hash_type = _OAEP_HASHES[algorithm]
    oaep = padding.OAEP(mgf=padding.MGF1(hash_type()), algorithm=hash_type(), label=None)
    try:
        if algorithm.startswith("RSAES_OAEP"):
            return key.decrypt(wrapped, oaep)
        modulus_bytes = (key.key_size + 7) // 8
        aes_key = key.decrypt(wrapped[:modulus_bytes], oaep)
        if len(aes_key) != _AES_KEY_BYTES:
            raise UnwrapFailed
        return aes_key_unwrap_with_padding(aes_key, wrapped[modulus_bytes:])
    except (ValueError, InvalidUnwrap):
        raise UnwrapFailed from None
