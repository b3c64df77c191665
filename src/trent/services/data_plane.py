"""The data plane: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext),
GenerateDataKeyPair(WithoutPlaintext) and GenerateRandom.

Envelope encryption lives here: the key's material never leaves, only data keys and ciphertexts.
Every key comes through ``KeyAccess`` (resolution -> authorization -> key state -> key usage);
then algorithm and request checks -> DryRun -> the work. RSA keys' Encrypt/Decrypt go to
``RsaEncryption``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from trent.crypto import asymmetric
from trent.crypto.random import random_bytes
from trent.domain import ciphertext
from trent.domain.errors import (
    AccessDeniedException,
    CustomKeyStoreNotFoundException,
    DryRunOperationException,
    IncorrectKeyException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    UnsupportedOperationException,
    ValidationException,
)
from trent.domain.keys import ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT, Key, StateRule, check_state
from trent.services.asymmetric import RsaEncryption, uses_rsa_encryption
from trent.services.authorize import authorize
from trent.services.key_access import Facts, KeyAccess, alias_in
from trent.services.ports import Store
from trent.services.request import RequestContext

DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}


@dataclass(frozen=True, slots=True)
class EncryptResult:
    ciphertext_blob: bytes
    key_arn: str
    encryption_algorithm: str
    key_material_id: str | None  # None for asymmetric keys: AWS names no material for them


@dataclass(frozen=True, slots=True)
class DecryptResult:
    plaintext: bytes
    key_arn: str
    encryption_algorithm: str
    key_material_id: str | None


@dataclass(frozen=True, slots=True)
class DataKeyResult:
    plaintext: bytes
    ciphertext_blob: bytes
    key_arn: str
    key_material_id: str


@dataclass(frozen=True, slots=True)
class ReEncryptResult:
    ciphertext_blob: bytes
    source_key_arn: str
    key_arn: str
    source_encryption_algorithm: str
    destination_encryption_algorithm: str
    source_key_material_id: str | None
    destination_key_material_id: str | None


@dataclass(frozen=True, slots=True)
class DataKeyPairResult:
    key_arn: str
    key_pair_spec: str
    public_key: bytes
    private_key_plaintext: bytes
    private_key_ciphertext_blob: bytes
    key_material_id: str


class DataPlane:
    def __init__(self, keys: KeyAccess, rsa: RsaEncryption, store: Store) -> None:
        self._keys = keys
        self._rsa = rsa
        self._store = store

    def _symmetric_key_for(
        self,
        request: RequestContext,
        key_ref: str,
        action: str,
        operation: str,
        context: Mapping[str, str] | None,
        algorithm: str | None = None,
        facts: Facts | None = None,
    ) -> Key:
        """An ENCRYPT_DECRYPT key for a use: the one key-access sequence with this use's facts."""
        all_facts: Facts = {**(facts or {}), "kms:encryptionalgorithm": algorithm or SYMMETRIC_DEFAULT}
        return self._keys.for_use(
            request, key_ref, operation, ENCRYPT_DECRYPT, action=action, context=context, facts=all_facts
        )

    def encrypt(
        self,
        request: RequestContext,
        key_ref: str,
        plaintext: bytes,
        context: Mapping[str, str] | None,
        algorithm: str | None,
        dry_run: bool,
    ) -> EncryptResult:
        key = self._symmetric_key_for(request, key_ref, "kms:Encrypt", "Encrypt", context, algorithm)
        algorithm = self._encryption_algorithm(key, algorithm, context)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        if uses_rsa_encryption(key):
            blob, algorithm = self._rsa.rsa_encrypt(key, plaintext, algorithm, context)
            return EncryptResult(blob, key.arn, algorithm, None)
        material_id, material = self._keys.current_material(key)
        blob = ciphertext.encrypt(key.key_id, material_id, material, plaintext, context)
        return EncryptResult(blob, key.arn, algorithm, material_id)

    def _open(
        self,
        request: RequestContext,
        blob: bytes,
        context: Mapping[str, str] | None,
        key_ref: str | None,
        algorithm: str | None,
        action: str,
        operation: str,
    ) -> DecryptResult:
        caller = request.caller
        named = None if key_ref is None else self._keys.resolve(request, key_ref, allow_alias=True, use=True)
        if named is not None and uses_rsa_encryption(named):
            return self._open_rsa(request, named, blob, context, key_ref, algorithm, action, operation)
        parsed = ciphertext.parse(blob)
        if named is not None and named.key_id != parsed.key_id:
            raise IncorrectKeyException.mismatch()
        key = self._keys.cache.key(caller.region, parsed.key_id)
        if key is None:
            # A key that exists elsewhere or was deleted gets AWS's answer; an id never issued
            # means the blob was tampered with.
            if self._store.key_id_known(parsed.key_id):
                raise AccessDeniedException.ciphertext_key_unusable()
            raise InvalidCiphertextException
        request.touch(key.arn)  # the ciphertext names it, whether or not the request did
        facts: Facts = {"kms:encryptionalgorithm": algorithm or SYMMETRIC_DEFAULT}
        if key_ref is not None:
            facts["kms:requestalias"] = alias_in(key_ref)
        self._keys.authorize(request, action, key, context=context, facts=facts)
        self._keys.check_use(key, operation, ENCRYPT_DECRYPT)
        algorithm = _check_algorithm(key, algorithm)
        material = self._keys.cache.material(key.key_id, parsed.material_id)
        if material is None:
            raise InvalidCiphertextException
        return DecryptResult(ciphertext.decrypt(parsed, material, context), key.arn, algorithm, parsed.material_id)

    def _open_rsa(
        self,
        request: RequestContext,
        key: Key,
        blob: bytes,
        context: Mapping[str, str] | None,
        key_ref: str | None,
        algorithm: str | None,
        action: str,
        operation: str,
    ) -> DecryptResult:
        """An RSA key's ciphertext: the bare RSAES-OAEP output, opened with the named key."""
        facts: Facts = {
            "kms:encryptionalgorithm": algorithm or SYMMETRIC_DEFAULT,
            "kms:requestalias": alias_in(key_ref) if key_ref is not None else None,
        }
        self._keys.authorize(request, action, key, context=context, facts=facts)
        check_state(key, StateRule.CRYPTO)
        if (algorithm or SYMMETRIC_DEFAULT) == SYMMETRIC_DEFAULT:
            # Read as a symmetric ciphertext, which it is not (AWS answers this way, unlike Encrypt).
            raise InvalidCiphertextException
        plaintext, chosen = self._rsa.rsa_decrypt(key, blob, algorithm, context)
        return DecryptResult(plaintext, key.arn, chosen, None)

    def _encryption_algorithm(self, key: Key, algorithm: str | None, context: Mapping[str, str] | None) -> str:
        if uses_rsa_encryption(key):
            return self._rsa.check_rsa_request(key, algorithm, context)
        return _check_algorithm(key, algorithm)

    def dry_run_ignoring_ciphertext(
        self,
        request: RequestContext,
        key_ref: str,
        context: Mapping[str, str] | None,
        algorithm: str | None,
        action: str,
        operation: str,
    ) -> None:
        """DryRun with IGNORE_CIPHERTEXT: every check of the named key, none of the ciphertext."""
        key = self._symmetric_key_for(request, key_ref, action, operation, context, algorithm)
        self._encryption_algorithm(key, algorithm, context)

    def decrypt(
        self,
        request: RequestContext,
        blob: bytes,
        context: Mapping[str, str] | None,
        key_ref: str | None,
        algorithm: str | None,
        dry_run: bool,
    ) -> DecryptResult:
        result = self._open(request, blob, context, key_ref, algorithm, "kms:Decrypt", "Decrypt")
        if dry_run:
            raise DryRunOperationException.would_succeed()
        return result

    def re_encrypt(
        self,
        request: RequestContext,
        blob: bytes,
        source_context: Mapping[str, str] | None,
        source_key_ref: str | None,
        source_algorithm: str | None,
        destination_key_ref: str,
        destination_context: Mapping[str, str] | None,
        destination_algorithm: str | None,
        dry_run: bool,
    ) -> ReEncryptResult:
        opened = self._open(
            request, blob, source_context, source_key_ref, source_algorithm, "kms:ReEncryptFrom", "ReEncrypt"
        )
        destination = self._symmetric_key_for(
            request, destination_key_ref, "kms:ReEncryptTo", "ReEncrypt", destination_context, destination_algorithm
        )
        destination_algorithm = self._encryption_algorithm(destination, destination_algorithm, destination_context)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        material_id: str | None
        if uses_rsa_encryption(destination):
            new_blob, destination_algorithm = self._rsa.rsa_encrypt(
                destination, opened.plaintext, destination_algorithm, destination_context
            )
            material_id = None
        else:
            material_id, material = self._keys.current_material(destination)
            new_blob = ciphertext.encrypt(
                destination.key_id, material_id, material, opened.plaintext, destination_context
            )
        return ReEncryptResult(
            ciphertext_blob=new_blob,
            source_key_arn=opened.key_arn,
            key_arn=destination.arn,
            source_encryption_algorithm=opened.encryption_algorithm,
            destination_encryption_algorithm=destination_algorithm,
            source_key_material_id=opened.key_material_id,
            destination_key_material_id=material_id,
        )

    def generate_data_key(
        self,
        request: RequestContext,
        key_ref: str,
        key_spec: str | None,
        number_of_bytes: int | None,
        context: Mapping[str, str] | None,
        dry_run: bool,
        *,
        with_plaintext: bool,
    ) -> DataKeyResult:
        operation = "GenerateDataKey" if with_plaintext else "GenerateDataKeyWithoutPlaintext"
        key = self._symmetric_key_for(request, key_ref, f"kms:{operation}", operation, context)
        if (key_spec is None) == (number_of_bytes is None):
            raise ValidationException("Please specify either number of bytes or key spec.")
        if not key.is_symmetric_encryption:
            raise InvalidKeyUsageException.usage(key.arn, key.key_usage, operation)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        size = DATA_KEY_BYTES[key_spec] if key_spec is not None else int(number_of_bytes or 0)
        plaintext = random_bytes(size)
        material_id, material = self._keys.current_material(key)
        blob = ciphertext.encrypt(key.key_id, material_id, material, plaintext, context)
        return DataKeyResult(plaintext, blob, key.arn, material_id)

    def generate_data_key_pair(
        self,
        request: RequestContext,
        key_ref: str,
        key_pair_spec: str,
        context: Mapping[str, str] | None,
        dry_run: bool,
        *,
        with_plaintext: bool,
    ) -> DataKeyPairResult:
        operation = "GenerateDataKeyPair" if with_plaintext else "GenerateDataKeyPairWithoutPlaintext"
        key = self._symmetric_key_for(
            request, key_ref, f"kms:{operation}", operation, context, facts={"kms:datakeypairspec": key_pair_spec}
        )
        if not key.is_symmetric_encryption:
            raise InvalidKeyUsageException.usage(key.arn, key.key_usage, operation)
        if key_pair_spec not in asymmetric.DATA_KEY_PAIR_SPECS:
            raise UnsupportedOperationException(f"KeyPairSpec {key_pair_spec} is not supported in this Region.")
        if dry_run:
            raise DryRunOperationException.would_succeed()
        private, public = asymmetric.generate_key_pair(key_pair_spec)
        material_id, material = self._keys.current_material(key)
        blob = ciphertext.encrypt(key.key_id, material_id, material, private, context)
        return DataKeyPairResult(key.arn, key_pair_spec, public, private, blob, material_id)

    def generate_random(
        self, request: RequestContext, number_of_bytes: int | None, custom_key_store_id: str | None
    ) -> bytes:
        caller = request.caller
        authorize(caller, "kms:GenerateRandom", None)
        if number_of_bytes is None:
            raise ValidationException("NumberOfBytes is required.")
        if custom_key_store_id is not None:
            raise CustomKeyStoreNotFoundException(
                f"Custom key store {custom_key_store_id} does not exist in this account and Region."
            )
        return random_bytes(number_of_bytes)


def _check_algorithm(key: Key, algorithm: str | None) -> str:
    chosen = algorithm or SYMMETRIC_DEFAULT
    if key.key_spec == SYMMETRIC_DEFAULT and chosen != SYMMETRIC_DEFAULT:
        raise InvalidKeyUsageException.incompatible(chosen, key.key_spec)
    return chosen
