"""Asymmetric KMS keys as pure functions over bytes: generation, Sign/Verify, RSA-OAEP, ECDH, data key pairs.

Private keys travel as DER PKCS#8, public keys as DER SubjectPublicKeyInfo. Names of key specs, algorithms and
message types are AWS's enum values. Nothing here knows about KMS requests; callers translate the errors below.

What the installed ``cryptography`` cannot do is signalled with :class:`UnsupportedAlgorithm`: ``ED25519_PH_SHA_512``
(no Ed25519ph). ML-DSA ``EXTERNAL_MU`` is available through ``sign_mu``/``verify_mu`` (cryptography >= 49); should the
backend lack ML-DSA altogether, ML-DSA key specs raise :class:`UnsupportedAlgorithm` as well.
ML-KEM keys are generated, parsed and exported here as well; Encapsulate and Decapsulate are ``trent.crypto.kem``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as _CryptographyUnsupported
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from trent.crypto import kem

MessageType = Literal["RAW", "DIGEST", "EXTERNAL_MU"]

RSA_PUBLIC_EXPONENT = 65537
MU_BYTES = 64
PARSED_KEY_CACHE_SIZE = 256


class CryptoKeyError(Exception):
    """Base of every error raised here. Messages never carry key material, plaintext or signatures."""


class UnsupportedAlgorithm(CryptoKeyError):
    """The algorithm is a valid KMS algorithm but the installed ``cryptography`` cannot perform it."""


class UnknownKeySpec(CryptoKeyError):
    """Not a key spec (or key pair spec) this module knows."""


class IncompatibleAlgorithm(CryptoKeyError):
    """The algorithm (or message type) is not valid for the key spec (or algorithm)."""


class InvalidDigestLength(CryptoKeyError):
    """A DIGEST (or EXTERNAL_MU) message whose length is not the algorithm's hash length."""


class PlaintextTooLarge(CryptoKeyError):
    """RSA-OAEP plaintext longer than AWS's limit (k - 2*hLen - 2)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"plaintext exceeds the {limit}-byte limit")
        self.limit = limit


class DecryptionFailed(CryptoKeyError):
    """RSA-OAEP decryption failed. Carries no detail on purpose (no padding oracle)."""


class InvalidPublicKey(CryptoKeyError):
    """A public key that does not parse, or is of the wrong type or curve."""


class InvalidKeyMaterial(CryptoKeyError):
    """A private key that does not parse or does not match the key spec."""


# --- key specs -------------------------------------------------------------------------------------------------------

_RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}

_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "ECC_NIST_P256": ec.SECP256R1(),
    "ECC_NIST_P384": ec.SECP384R1(),
    "ECC_NIST_P521": ec.SECP521R1(),
    "ECC_SECG_P256K1": ec.SECP256K1(),
}
_NIST_AGREEMENT_CURVES = ("secp256r1", "secp384r1", "secp521r1")

_ED25519 = "ECC_NIST_EDWARDS25519"

_MLDSA: dict[str, tuple[type[mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey], type]] = {
    "ML_DSA_44": (mldsa.MLDSA44PrivateKey, mldsa.MLDSA44PublicKey),
    "ML_DSA_65": (mldsa.MLDSA65PrivateKey, mldsa.MLDSA65PublicKey),
    "ML_DSA_87": (mldsa.MLDSA87PrivateKey, mldsa.MLDSA87PublicKey),
}

# ML-KEM keys (trent.crypto.kem) are asymmetric keys too: generated, parsed and exported here like the others.
ASYMMETRIC_KEY_SPECS: tuple[str, ...] = (*_RSA_BITS, *_EC_CURVES, _ED25519, *_MLDSA, *kem.SUPPORTED_SPECS)
DATA_KEY_PAIR_SPECS: tuple[str, ...] = (*_RSA_BITS, *_EC_CURVES, _ED25519)


# --- algorithms ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SigningAlgorithm:
    family: Literal["PKCS1", "PSS", "ECDSA", "ED25519", "ED25519PH", "MLDSA"]
    hash: hashes.HashAlgorithm | None
    message_types: tuple[MessageType, ...]


_SIGNING: dict[str, _SigningAlgorithm] = {
    "RSASSA_PKCS1_V1_5_SHA_256": _SigningAlgorithm("PKCS1", hashes.SHA256(), ("RAW", "DIGEST")),
    "RSASSA_PKCS1_V1_5_SHA_384": _SigningAlgorithm("PKCS1", hashes.SHA384(), ("RAW", "DIGEST")),
    "RSASSA_PKCS1_V1_5_SHA_512": _SigningAlgorithm("PKCS1", hashes.SHA512(), ("RAW", "DIGEST")),
    "RSASSA_PSS_SHA_256": _SigningAlgorithm("PSS", hashes.SHA256(), ("RAW", "DIGEST")),
    "RSASSA_PSS_SHA_384": _SigningAlgorithm("PSS", hashes.SHA384(), ("RAW", "DIGEST")),
    "RSASSA_PSS_SHA_512": _SigningAlgorithm("PSS", hashes.SHA512(), ("RAW", "DIGEST")),
    "ECDSA_SHA_256": _SigningAlgorithm("ECDSA", hashes.SHA256(), ("RAW", "DIGEST")),
    "ECDSA_SHA_384": _SigningAlgorithm("ECDSA", hashes.SHA384(), ("RAW", "DIGEST")),
    "ECDSA_SHA_512": _SigningAlgorithm("ECDSA", hashes.SHA512(), ("RAW", "DIGEST")),
    "ED25519_SHA_512": _SigningAlgorithm("ED25519", None, ("RAW",)),
    "ED25519_PH_SHA_512": _SigningAlgorithm("ED25519PH", hashes.SHA512(), ("DIGEST",)),
    "ML_DSA_SHAKE_256": _SigningAlgorithm("MLDSA", None, ("RAW", "EXTERNAL_MU")),
}

_RSA_SIGNING = tuple(name for name, alg in _SIGNING.items() if alg.family in ("PKCS1", "PSS"))

SIGNING_ALGORITHMS_FOR_SPEC: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(_RSA_BITS, _RSA_SIGNING),
    "ECC_NIST_P256": ("ECDSA_SHA_256",),
    "ECC_NIST_P384": ("ECDSA_SHA_384",),
    "ECC_NIST_P521": ("ECDSA_SHA_512",),
    "ECC_SECG_P256K1": ("ECDSA_SHA_256",),
    _ED25519: ("ED25519_SHA_512", "ED25519_PH_SHA_512"),
    **dict.fromkeys(_MLDSA, ("ML_DSA_SHAKE_256",)),
}

_OAEP_HASH: dict[str, hashes.HashAlgorithm] = {
    "RSAES_OAEP_SHA_1": hashes.SHA1(),  # noqa: S303 - an AWS algorithm; OAEP needs no collision resistance
    "RSAES_OAEP_SHA_256": hashes.SHA256(),
}
ENCRYPTION_ALGORITHMS_FOR_SPEC: dict[str, tuple[str, ...]] = dict.fromkeys(_RSA_BITS, tuple(_OAEP_HASH))
KEY_AGREEMENT_SPECS: tuple[str, ...] = ("ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521")


# --- generation and encoding -----------------------------------------------------------------------------------------


def _pkcs8(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _spki(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _mldsa_generate(spec: str) -> PrivateKeyTypes:
    try:
        return _MLDSA[spec][0].generate()
    except _CryptographyUnsupported:
        raise UnsupportedAlgorithm(f"{spec} is not supported by the installed cryptography") from None


def generate_private_key(spec: str) -> bytes:
    """A fresh private key for an asymmetric KMS KeySpec, as DER PKCS#8 (ML-DSA and ML-KEM: the seed form)."""
    key: PrivateKeyTypes
    if spec in _RSA_BITS:
        key = rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=_RSA_BITS[spec])
    elif spec in _EC_CURVES:
        key = ec.generate_private_key(_EC_CURVES[spec])
    elif spec == _ED25519:
        key = ed25519.Ed25519PrivateKey.generate()
    elif spec in _MLDSA:
        key = _mldsa_generate(spec)
    elif spec in kem.ML_KEM_SPECS:
        try:
            return kem.generate_private_key(spec)
        except kem.UnsupportedKemSpec:
            raise UnsupportedAlgorithm(f"{spec} is not supported by the installed cryptography") from None
    else:
        raise UnknownKeySpec(f"unknown asymmetric key spec {spec!r}")
    return _pkcs8(key)


def generate_key_pair(key_pair_spec: str) -> tuple[bytes, bytes]:
    """A data key pair for GenerateDataKeyPair: (DER PKCS#8 private key, DER SubjectPublicKeyInfo)."""
    if key_pair_spec not in DATA_KEY_PAIR_SPECS:
        raise UnknownKeySpec(f"unknown data key pair spec {key_pair_spec!r}")
    private = generate_private_key(key_pair_spec)
    return private, public_key_der(private)


@functools.lru_cache(maxsize=PARSED_KEY_CACHE_SIZE)
def _load_private_any(private_pkcs8: bytes) -> PrivateKeyTypes:
    """Parse (and, for RSA, validate) a private key. Cached: validating an RSA-4096 key costs ~250 ms per call,
    and the process holds the material anyway while it serves the key."""
    try:
        return serialization.load_der_private_key(private_pkcs8, password=None)
    except (ValueError, TypeError, _CryptographyUnsupported):
        raise InvalidKeyMaterial("private key does not parse as DER PKCS#8") from None


def public_key_der(private_pkcs8: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of a DER PKCS#8 private key."""
    return _spki(_load_private_any(private_pkcs8).public_key())


def spec_of_private_key(private_pkcs8: bytes) -> str:
    """The KMS KeySpec a DER PKCS#8 private key belongs to (for imported material)."""
    return _spec_of(_load_private_any(private_pkcs8), InvalidKeyMaterial)


def _spec_of(key: PrivateKeyTypes | PublicKeyTypes, error: type[CryptoKeyError]) -> str:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        for spec, bits in _RSA_BITS.items():
            if key.key_size == bits:
                return spec
    elif isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        for spec, curve in _EC_CURVES.items():
            if key.curve.name == curve.name:
                return spec
    elif isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return _ED25519
    else:
        for spec, (private_type, public_type) in _MLDSA.items():
            if isinstance(key, private_type | public_type):
                return spec
        kem_spec = kem.spec_of(key)
        if kem_spec is not None:
            return kem_spec
    raise error("key is of no KMS key spec")


def _load_private(spec: str, private_pkcs8: bytes) -> PrivateKeyTypes:
    key = _load_private_any(private_pkcs8)
    if _spec_of(key, InvalidKeyMaterial) != spec:
        raise InvalidKeyMaterial(f"private key does not match key spec {spec}")
    return key


def _load_public_any(public_spki_der: bytes) -> PublicKeyTypes:
    try:
        return serialization.load_der_public_key(public_spki_der)
    except (ValueError, TypeError, _CryptographyUnsupported):
        raise InvalidPublicKey("public key does not parse as DER SubjectPublicKeyInfo") from None


def _load_public(spec: str, public_spki_der: bytes) -> PublicKeyTypes:
    key = _load_public_any(public_spki_der)
    if _spec_of(key, InvalidPublicKey) != spec:
        raise InvalidPublicKey(f"public key does not match key spec {spec}")
    return key


# --- Sign / Verify ---------------------------------------------------------------------------------------------------


def _signing_algorithm(spec: str, algorithm: str, message: bytes, message_type: str) -> _SigningAlgorithm:
    """Check spec/algorithm/message type and the DIGEST or EXTERNAL_MU length; raise before any key is touched."""
    if spec not in SIGNING_ALGORITHMS_FOR_SPEC:
        raise UnknownKeySpec(f"key spec {spec!r} has no signing algorithms")
    if algorithm not in SIGNING_ALGORITHMS_FOR_SPEC[spec]:
        raise IncompatibleAlgorithm(f"algorithm {algorithm} is incompatible with key spec {spec}")
    alg = _SIGNING[algorithm]
    if message_type not in alg.message_types:
        raise IncompatibleAlgorithm(f"message type {message_type} is incompatible with algorithm {algorithm}")
    if message_type == "DIGEST" and len(message) != _hash_of(alg).digest_size:
        raise InvalidDigestLength(f"digest is invalid length for algorithm {algorithm}")
    if message_type == "EXTERNAL_MU" and len(message) != MU_BYTES:
        raise InvalidDigestLength(f"external mu is invalid length for algorithm {algorithm}")
    if alg.family == "ED25519PH":
        raise UnsupportedAlgorithm(f"{algorithm} (Ed25519ph) is not supported by the installed cryptography")
    return alg


def check_signing_request(spec: str, algorithm: str, message: bytes, message_type: str) -> None:
    """The checks Sign and Verify make before touching a key, so callers can answer before any work."""
    _signing_algorithm(spec, algorithm, message, message_type)


def check_peer_public_key(spec: str, peer_spki_der: bytes) -> None:
    """DeriveSharedSecret's peer key: a DER SubjectPublicKeyInfo on the key spec's curve."""
    peer = _load_public_any(peer_spki_der)
    curve = _EC_CURVES.get(spec)
    if curve is None or not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != curve.name:
        raise InvalidPublicKey("peer public key is not a point on the key's curve")


def _hash_of(alg: _SigningAlgorithm) -> hashes.HashAlgorithm:
    if alg.hash is None:  # pragma: no cover - only RAW-only schemes without a separate hash lack one
        raise IncompatibleAlgorithm("algorithm has no separate hash")
    return alg.hash


def _hash_choice(alg: _SigningAlgorithm, message_type: str) -> hashes.HashAlgorithm | Prehashed:
    h = _hash_of(alg)
    return Prehashed(h) if message_type == "DIGEST" else h


def _pss(alg: _SigningAlgorithm) -> padding.PSS:
    h = _hash_of(alg)
    return padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)


def _rsa_padding(alg: _SigningAlgorithm) -> padding.AsymmetricPadding:
    return padding.PKCS1v15() if alg.family == "PKCS1" else _pss(alg)


def sign(spec: str, private_pkcs8: bytes, algorithm: str, message: bytes, message_type: str = "RAW") -> bytes:
    """Sign like KMS Sign. RAW hashes ``message``; DIGEST signs the given digest as-is; EXTERNAL_MU signs mu.

    Signatures: RSA per PKCS #1, ECDSA DER, Ed25519 64 raw bytes, ML-DSA the FIPS 204 encoding (empty context).
    """
    alg = _signing_algorithm(spec, algorithm, message, message_type)
    key = _load_private(spec, private_pkcs8)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, _rsa_padding(alg), _hash_choice(alg, message_type))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, ec.ECDSA(_hash_choice(alg, message_type)))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    if isinstance(key, mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey):
        return key.sign_mu(message) if message_type == "EXTERNAL_MU" else key.sign(message)
    raise InvalidKeyMaterial(f"private key does not match key spec {spec}")  # pragma: no cover - _load_private


def verify(
    spec: str,
    public_spki_der: bytes,
    algorithm: str,
    message: bytes,
    message_type: str,
    signature: bytes,
) -> bool:
    """True iff ``signature`` is valid; False for any wrong or malformed signature (never raises on it).

    Raises for what is not about the signature: unknown spec, incompatible algorithm or message type, DIGEST or mu
    length, a public key that does not parse or match the spec, an unsupported algorithm.
    """
    alg = _signing_algorithm(spec, algorithm, message, message_type)
    key = _load_public(spec, public_spki_der)
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, _rsa_padding(alg), _hash_choice(alg, message_type))
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(_hash_choice(alg, message_type)))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        elif isinstance(key, mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey):
            if message_type == "EXTERNAL_MU":
                key.verify_mu(signature, message)
            else:
                key.verify(signature, message)
        else:  # pragma: no cover - _load_public admits only the types above
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# --- RSA-OAEP --------------------------------------------------------------------------------------------------------


def _oaep(spec: str, algorithm: str) -> tuple[padding.OAEP, int]:
    if spec not in ENCRYPTION_ALGORITHMS_FOR_SPEC:
        raise UnknownKeySpec(f"key spec {spec!r} has no encryption algorithms")
    if algorithm not in ENCRYPTION_ALGORITHMS_FOR_SPEC[spec]:
        raise IncompatibleAlgorithm(f"algorithm {algorithm} is incompatible with key spec {spec}")
    h = _OAEP_HASH[algorithm]
    limit = _RSA_BITS[spec] // 8 - 2 * h.digest_size - 2
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None), limit


def oaep_plaintext_limit(spec: str, algorithm: str) -> int:
    """AWS's RSA Encrypt plaintext limit: k - 2*hLen - 2 bytes."""
    return _oaep(spec, algorithm)[1]


def rsa_encrypt(spec: str, public_spki_der: bytes, algorithm: str, plaintext: bytes) -> bytes:
    pad, limit = _oaep(spec, algorithm)
    if len(plaintext) > limit:
        raise PlaintextTooLarge(limit)
    key = _load_public(spec, public_spki_der)
    if not isinstance(key, rsa.RSAPublicKey):  # pragma: no cover - _load_public checked the spec
        raise InvalidPublicKey(f"public key does not match key spec {spec}")
    return key.encrypt(plaintext, pad)


def rsa_decrypt(spec: str, private_pkcs8: bytes, algorithm: str, ciphertext: bytes) -> bytes:
    """OAEP with the same hash for MGF1 and an empty label; any failure is :class:`DecryptionFailed`."""
    pad, _ = _oaep(spec, algorithm)
    key = _load_private(spec, private_pkcs8)
    if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover - _load_private checked the spec
        raise InvalidKeyMaterial(f"private key does not match key spec {spec}")
    try:
        return key.decrypt(ciphertext, pad)
    except (ValueError, TypeError):
        raise DecryptionFailed from None


# --- ECDH ------------------------------------------------------------------------------------------------------------


def ecdh_raw(private_pkcs8: bytes, peer_spki_der: bytes) -> bytes:
    """Raw ECDH (SP 800-56A, cofactor 1 curves) on any supported Weierstrass curve, secp256k1 included.

    KMS offers agreement only on the NIST curves: use :func:`derive_shared_secret` for KMS keys.
    """
    key = _load_private_any(private_pkcs8)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise IncompatibleAlgorithm("ECDH needs an elliptic-curve private key")
    peer = _load_public_any(peer_spki_der)
    if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != key.curve.name:
        raise InvalidPublicKey("peer public key is not a point on the key's curve")
    try:
        return key.exchange(ec.ECDH(), peer)
    except ValueError:
        raise InvalidPublicKey("peer public key is not usable for ECDH") from None


def derive_shared_secret(private_pkcs8: bytes, peer_spki_der: bytes) -> bytes:
    """KMS DeriveSharedSecret: raw ECDH shared secret for ECC_NIST_P256/P384/P521 keys."""
    key = _load_private_any(private_pkcs8)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name not in _NIST_AGREEMENT_CURVES:
        raise IncompatibleAlgorithm("ECDH key agreement needs an ECC_NIST_P256/P384/P521 key")
    return ecdh_raw(private_pkcs8, peer_spki_der)
