"""ML-KEM (FIPS 203) for KMS's ML_KEM_* key specs: generation, Encapsulate and Decapsulate over bytes.

Private keys travel as DER PKCS#8 in the 64-byte seed form (d || z), public keys as DER SubjectPublicKeyInfo, like
every other asymmetric key in ``trent.crypto``. Decapsulation uses implicit rejection (FIPS 203 section 6.3): a
ciphertext of the right length always yields 32 bytes, a pseudo-random value when it was not made for this key; only a
ciphertext of the wrong length is refused.

The installed ``cryptography`` offers ML-KEM-768 and ML-KEM-1024 only; ``ML_KEM_512`` is a KMS key spec it cannot
serve, signalled with :class:`UnsupportedKemSpec` (a hand-written ML-KEM-512 would be a hand-rolled primitive).
"""

from __future__ import annotations

import functools

from cryptography.exceptions import UnsupportedAlgorithm as _CryptographyUnsupported
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

ML_KEM = "ML_KEM"  # the one EncapsulationAlgorithmSpec
SHARED_SECRET_BYTES = 32
SEED_BYTES = 64
PARSED_KEY_CACHE_SIZE = 256

# Every ML-KEM key spec of the KMS model, and the FIPS 203 sizes of each parameter set.
ML_KEM_SPECS: tuple[str, ...] = ("ML_KEM_512", "ML_KEM_768", "ML_KEM_1024")
CIPHERTEXT_BYTES: dict[str, int] = {"ML_KEM_512": 768, "ML_KEM_768": 1088, "ML_KEM_1024": 1568}
PUBLIC_KEY_BYTES: dict[str, int] = {"ML_KEM_512": 800, "ML_KEM_768": 1184, "ML_KEM_1024": 1568}

_PrivateKey = mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey
_PublicKey = mlkem.MLKEM768PublicKey | mlkem.MLKEM1024PublicKey
_TYPES: dict[str, tuple[type[mlkem.MLKEM768PrivateKey] | type[mlkem.MLKEM1024PrivateKey], type]] = {
    "ML_KEM_768": (mlkem.MLKEM768PrivateKey, mlkem.MLKEM768PublicKey),
    "ML_KEM_1024": (mlkem.MLKEM1024PrivateKey, mlkem.MLKEM1024PublicKey),
}
# The specs this module can generate and use; the rest of ML_KEM_SPECS it refuses.
SUPPORTED_SPECS: tuple[str, ...] = tuple(_TYPES)
UNSUPPORTED_SPECS: frozenset[str] = frozenset(ML_KEM_SPECS) - frozenset(SUPPORTED_SPECS)


class KemError(Exception):
    """Base of every error raised here. Messages never carry key material, secrets or ciphertexts."""


class UnsupportedKemSpec(KemError):
    """An ML-KEM key spec of KMS the installed ``cryptography`` cannot perform (ML_KEM_512), or no ML-KEM at all."""


class UnknownKemSpec(KemError):
    """Not an ML-KEM key spec."""


class InvalidKemKey(KemError):
    """A private or public key that does not parse or is not of the key spec."""


class InvalidKemCiphertext(KemError):
    """A ciphertext whose length is not the key spec's (the only ciphertext ML-KEM decapsulation refuses)."""


def _check_spec(spec: str) -> None:
    if spec in UNSUPPORTED_SPECS:
        raise UnsupportedKemSpec(f"{spec} is not supported by the installed cryptography")
    if spec not in _TYPES:
        raise UnknownKemSpec(f"unknown ML-KEM key spec {spec!r}")


def generate_private_key(spec: str) -> bytes:
    """A fresh ML-KEM private key as DER PKCS#8 (seed form)."""
    _check_spec(spec)
    try:
        key = _TYPES[spec][0].generate()
    except _CryptographyUnsupported:
        raise UnsupportedKemSpec(f"{spec} is not supported by the installed cryptography") from None
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def private_key_from_seed(spec: str, seed: bytes) -> bytes:
    """DER PKCS#8 of the key FIPS 203 ML-KEM.KeyGen_internal derives from the 64-byte seed d || z."""
    _check_spec(spec)
    if len(seed) != SEED_BYTES:
        raise InvalidKemKey(f"an ML-KEM seed is {SEED_BYTES} bytes")
    key = _TYPES[spec][0].from_seed_bytes(seed)
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def spec_of(key: PrivateKeyTypes | PublicKeyTypes) -> str | None:
    """The ML-KEM key spec of a parsed key, or None when it is no ML-KEM key."""
    for spec, (private_type, public_type) in _TYPES.items():
        if isinstance(key, private_type | public_type):
            return spec
    return None


@functools.lru_cache(maxsize=PARSED_KEY_CACHE_SIZE)
def _load_private(spec: str, private_pkcs8: bytes) -> _PrivateKey:
    """Parse once: loading a seed-form key runs the key expansion."""
    _check_spec(spec)
    try:
        key = serialization.load_der_private_key(private_pkcs8, password=None)
    except (ValueError, TypeError, _CryptographyUnsupported):
        raise InvalidKemKey("private key does not parse as DER PKCS#8") from None
    if spec_of(key) != spec or not isinstance(key, mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey):
        raise InvalidKemKey(f"private key does not match key spec {spec}")
    return key


def _load_public(spec: str, public_spki_der: bytes) -> _PublicKey:
    _check_spec(spec)
    try:
        key = serialization.load_der_public_key(public_spki_der)
    except (ValueError, TypeError, _CryptographyUnsupported):
        raise InvalidKemKey("public key does not parse as DER SubjectPublicKeyInfo") from None
    if spec_of(key) != spec or not isinstance(key, mlkem.MLKEM768PublicKey | mlkem.MLKEM1024PublicKey):
        raise InvalidKemKey(f"public key does not match key spec {spec}")
    return key


def public_key_der(spec: str, private_pkcs8: bytes) -> bytes:
    """DER SubjectPublicKeyInfo (RFC 5280, id-alg-ml-kem-*) of an ML-KEM private key."""
    return (
        _load_private(spec, private_pkcs8)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def check_ciphertext(spec: str, ciphertext: bytes) -> None:
    """Raise :class:`InvalidKemCiphertext` unless ``ciphertext`` has the key spec's length (before any key work)."""
    _check_spec(spec)
    if len(ciphertext) != CIPHERTEXT_BYTES[spec]:
        raise InvalidKemCiphertext(f"ciphertext length is not {CIPHERTEXT_BYTES[spec]} bytes")


def encapsulate(spec: str, public_spki_der: bytes) -> tuple[bytes, bytes]:
    """ML-KEM.Encaps with fresh randomness: (32-byte shared secret, ciphertext)."""
    shared_secret, ciphertext = _load_public(spec, public_spki_der).encapsulate()
    return shared_secret, ciphertext


def encapsulate_with_private_key(spec: str, private_pkcs8: bytes) -> tuple[bytes, bytes]:
    """Encapsulate to the public half of a private key (KMS holds only the private key)."""
    shared_secret, ciphertext = _load_private(spec, private_pkcs8).public_key().encapsulate()
    return shared_secret, ciphertext


def decapsulate(spec: str, private_pkcs8: bytes, ciphertext: bytes) -> bytes:
    """ML-KEM.Decaps: the 32-byte shared secret; implicit rejection for a ciphertext not made for this key."""
    check_ciphertext(spec, ciphertext)
    key = _load_private(spec, private_pkcs8)
    try:
        return key.decapsulate(ciphertext)
    except ValueError:  # pragma: no cover - only a wrong length is refused, and check_ciphertext caught that
        raise InvalidKemCiphertext("ciphertext was refused") from None
