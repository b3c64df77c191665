"""Use cases of ML-KEM keys (KeyUsage ENCAPSULATE_DECAPSULATE): Encapsulate and Decapsulate.

Every key comes through ``KeyAccess``: resolution -> authorization (key policy, IAM policies,
grants) -> key state -> key usage; then the algorithm and key spec -> request checks (the
ciphertext's length) -> DryRun -> the work. GetPublicKey of an ML-KEM key is AsymmetricKeys' like
any other asymmetric key's.
"""

from __future__ import annotations

from dataclasses import dataclass

from trent.crypto import kem
from trent.domain.errors import DryRunOperationException, InvalidCiphertextException, InvalidKeyUsageException
from trent.domain.keys import ENCAPSULATE_DECAPSULATE, Key
from trent.services.key_access import KeyAccess
from trent.services.request import RequestContext


@dataclass(frozen=True, slots=True)
class EncapsulateResult:
    key_arn: str
    shared_secret: bytes
    ciphertext: bytes
    algorithm: str


@dataclass(frozen=True, slots=True)
class DecapsulateResult:
    key_arn: str
    shared_secret: bytes
    algorithm: str


class KemKeys:
    """Encapsulate and Decapsulate with ML-KEM keys."""

    def __init__(self, keys: KeyAccess) -> None:
        self._keys = keys

    def _kem_key(self, request: RequestContext, key_ref: str, operation: str, algorithm: str) -> Key:
        key = self._keys.for_use(request, key_ref, operation, ENCAPSULATE_DECAPSULATE)
        if algorithm != kem.ML_KEM or key.key_spec not in kem.ML_KEM_SPECS:
            raise InvalidKeyUsageException.incompatible(algorithm, key.key_spec)
        return key

    def encapsulate(self, request: RequestContext, key_ref: str, algorithm: str, dry_run: bool) -> EncapsulateResult:
        key = self._kem_key(request, key_ref, "Encapsulate", algorithm)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        secret, ciphertext = kem.encapsulate_with_private_key(key.key_spec, self._keys.private_key(key))
        return EncapsulateResult(key.arn, secret, ciphertext, algorithm)

    def decapsulate(
        self, request: RequestContext, key_ref: str, ciphertext: bytes, algorithm: str, dry_run: bool
    ) -> DecapsulateResult:
        key = self._kem_key(request, key_ref, "Decapsulate", algorithm)
        try:
            kem.check_ciphertext(key.key_spec, ciphertext)
        except kem.InvalidKemCiphertext:
            raise InvalidCiphertextException from None
        if dry_run:
            raise DryRunOperationException.would_succeed()
        try:
            secret = kem.decapsulate(key.key_spec, self._keys.private_key(key), ciphertext)
        except kem.InvalidKemCiphertext:  # pragma: no cover - the length was checked above
            raise InvalidCiphertextException from None
        return DecapsulateResult(key.arn, secret, algorithm)
