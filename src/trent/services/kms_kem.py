"""Use cases of ML-KEM keys (KeyUsage ENCAPSULATE_DECAPSULATE): Encapsulate and Decapsulate.

Mixed into KmsService, whose key resolution, authorization and material cache they share (through
AsymmetricOperations' ``_key_for_use``). The order of checks is KmsService's: resolution ->
authorization (key policy, IAM policies, grants) -> key state -> key usage -> algorithm and key spec
-> request checks (the ciphertext's length) -> DryRun -> the work. GetPublicKey of an ML-KEM key is
AsymmetricOperations' like any other asymmetric key's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trent.crypto import kem
from trent.domain.errors import DryRunOperationException, InvalidCiphertextException, InvalidKeyUsageException
from trent.domain.identity import Caller
from trent.domain.keys import ENCAPSULATE_DECAPSULATE, Key

Facts = dict[str, str | Sequence[str] | None]


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


class KemOperations:
    """Encapsulate and Decapsulate; mixed into KmsService."""

    _key_for_use: Callable[[Caller, str, str, str, Facts], Key]
    _private_key: Callable[[Key], bytes]

    def _kem_key(self, caller: Caller, key_ref: str, operation: str, algorithm: str) -> Key:
        key = self._key_for_use(caller, key_ref, operation, ENCAPSULATE_DECAPSULATE, {})
        if algorithm != kem.ML_KEM or key.key_spec not in kem.ML_KEM_SPECS:
            raise InvalidKeyUsageException.incompatible(algorithm, key.key_spec)
        return key

    def encapsulate(self, caller: Caller, key_ref: str, algorithm: str, dry_run: bool) -> EncapsulateResult:
        key = self._kem_key(caller, key_ref, "Encapsulate", algorithm)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        secret, ciphertext = kem.encapsulate_with_private_key(key.key_spec, self._private_key(key))
        return EncapsulateResult(key.arn, secret, ciphertext, algorithm)

    def decapsulate(
        self, caller: Caller, key_ref: str, ciphertext: bytes, algorithm: str, dry_run: bool
    ) -> DecapsulateResult:
        key = self._kem_key(caller, key_ref, "Decapsulate", algorithm)
        try:
            kem.check_ciphertext(key.key_spec, ciphertext)
        except kem.InvalidKemCiphertext:
            raise InvalidCiphertextException from None
        if dry_run:
            raise DryRunOperationException.would_succeed()
        try:
            secret = kem.decapsulate(key.key_spec, self._private_key(key), ciphertext)
        except kem.InvalidKemCiphertext:  # pragma: no cover - the length was checked above
            raise InvalidCiphertextException from None
        return DecapsulateResult(key.arn, secret, algorithm)
