"""HMAC KMS keys (RFC 2104): secret generation, GenerateMac and constant-time VerifyMac."""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from trent.crypto.asymmetric import IncompatibleAlgorithm, UnknownKeySpec
from trent.crypto.random import random_bytes

HMAC_KEY_BYTES: dict[str, int] = {"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64}
MAC_ALGORITHM_FOR_SPEC: dict[str, str] = {
    "HMAC_224": "HMAC_SHA_224",
    "HMAC_256": "HMAC_SHA_256",
    "HMAC_384": "HMAC_SHA_384",
    "HMAC_512": "HMAC_SHA_512",
}
_HASH: dict[str, type[hashes.HashAlgorithm]] = {
    "HMAC_SHA_224": hashes.SHA224,
    "HMAC_SHA_256": hashes.SHA256,
    "HMAC_SHA_384": hashes.SHA384,
    "HMAC_SHA_512": hashes.SHA512,
}


def generate_hmac_key(spec: str) -> bytes:
    """A fresh raw secret: 28/32/48/64 bytes for HMAC_224/256/384/512."""
    if spec not in HMAC_KEY_BYTES:
        raise UnknownKeySpec(f"unknown HMAC key spec {spec!r}")
    return random_bytes(HMAC_KEY_BYTES[spec])


def _hash_for(spec: str, algorithm: str) -> type[hashes.HashAlgorithm]:
    if spec not in MAC_ALGORITHM_FOR_SPEC:
        raise UnknownKeySpec(f"unknown HMAC key spec {spec!r}")
    if MAC_ALGORITHM_FOR_SPEC[spec] != algorithm:
        raise IncompatibleAlgorithm(f"Algorithm {algorithm} is incompatible with key spec {spec}.")
    return _HASH[algorithm]


def generate_mac(spec: str, key: bytes, algorithm: str, message: bytes) -> bytes:
    """The full-length RFC 2104 HMAC (28/32/48/64 bytes) of ``message``."""
    mac = crypto_hmac.HMAC(key, _hash_for(spec, algorithm)())
    mac.update(message)
    return mac.finalize()


def verify_mac(spec: str, key: bytes, algorithm: str, message: bytes, mac: bytes) -> bool:
    """Constant-time comparison against the full-length tag; a truncated or malformed tag is False."""
    return hmac.compare_digest(generate_mac(spec, key, algorithm, message), mac)
