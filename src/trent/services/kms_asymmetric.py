"""Use cases of asymmetric and HMAC keys: Sign, Verify, GenerateMac, VerifyMac, DeriveSharedSecret,
GetPublicKey, GenerateDataKeyPair, and RSA-OAEP for Encrypt, Decrypt and ReEncrypt.

Mixed into KmsService, whose key resolution, authorization and material cache they share. The order
of checks is KmsService's: resolution -> authorization -> key state -> key usage and algorithm ->
request checks -> DryRun -> the work. The cryptography itself is ``trent.crypto``; here its errors
become AWS's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from trent.crypto import asymmetric, hmac_keys
from trent.crypto.random import random_bytes
from trent.domain import ciphertext
from trent.domain.errors import (
    DryRunOperationException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    KMSInvalidMacException,
    KMSInvalidSignatureException,
    UnsupportedOperationException,
    ValidationException,
)
from trent.domain.identity import Caller
from trent.domain.keys import (
    ENCRYPT_DECRYPT,
    GENERATE_VERIFY_MAC,
    KEY_AGREEMENT,
    SIGN_VERIFY,
    SYMMETRIC_DEFAULT,
    SYMMETRIC_MATERIAL_BYTES,
    Key,
    StateRule,
    check_state,
)

Facts = dict[str, str | Sequence[str] | None]
ECDH = "ECDH"


@dataclass(frozen=True, slots=True)
class SignResult:
    key_arn: str
    signature: bytes
    signing_algorithm: str


@dataclass(frozen=True, slots=True)
class MacResult:
    key_arn: str
    mac: bytes
    mac_algorithm: str


@dataclass(frozen=True, slots=True)
class PublicKeyResult:
    key: Key
    public_key: bytes


@dataclass(frozen=True, slots=True)
class SharedSecretResult:
    key_arn: str
    shared_secret: bytes
    key_origin: str


@dataclass(frozen=True, slots=True)
class DataKeyPairResult:
    key_arn: str
    key_pair_spec: str
    public_key: bytes
    private_key_plaintext: bytes
    private_key_ciphertext_blob: bytes
    key_material_id: str


def new_key_material(spec: str) -> bytes:
    """Fresh material for a key spec: the AES key, the HMAC secret, or the DER PKCS#8 private key."""
    if spec == SYMMETRIC_DEFAULT:
        return random_bytes(SYMMETRIC_MATERIAL_BYTES)
    if spec in hmac_keys.HMAC_KEY_BYTES:
        return hmac_keys.generate_hmac_key(spec)
    try:
        return asymmetric.generate_private_key(spec)
    except asymmetric.UnsupportedAlgorithm:
        raise UnsupportedOperationException(f"KeySpec {spec} is not supported by this Trent server.") from None


class AsymmetricOperations:
    """Operations of keys other than symmetric encryption keys; mixed into KmsService."""

    authorize_key: Callable[..., None]
    _resolve_for_use: Callable[[Caller, str], tuple[Key, str | None]]
    _current_material: Callable[[Key], tuple[str, bytes]]
    _symmetric_key_for: Callable[..., Key]

    def _key_for_use(self, caller: Caller, key_ref: str, operation: str, usage: str, facts: Facts) -> Key:
        key, alias = self._resolve_for_use(caller, key_ref)
        self.authorize_key(caller, f"kms:{operation}", key, facts={"kms:requestalias": alias, **facts})
        check_state(key, StateRule.CRYPTO)
        if key.key_usage != usage:
            raise InvalidKeyUsageException.usage(key.arn, key.key_usage, operation)
        return key

    def _private_key(self, key: Key) -> bytes:
        return self._current_material(key)[1]

    # ----------------------------------------------------------------- GetPublicKey

    def get_public_key(self, caller: Caller, key_ref: str) -> PublicKeyResult:
        key, alias = self._resolve_for_use(caller, key_ref)
        self.authorize_key(caller, "kms:GetPublicKey", key, facts={"kms:requestalias": alias})
        check_state(key, StateRule.CRYPTO)
        if not key.is_asymmetric:
            raise UnsupportedOperationException(f"{key.arn} key spec {key.key_spec} is not valid for GetPublicKey.")
        return PublicKeyResult(key, asymmetric.public_key_der(self._private_key(key)))

    # ----------------------------------------------------------------- Sign / Verify

    def _signing_key(
        self, caller: Caller, key_ref: str, operation: str, algorithm: str, message: bytes, message_type: str
    ) -> Key:
        facts: Facts = {"kms:signingalgorithm": algorithm, "kms:messagetype": message_type}
        key = self._key_for_use(caller, key_ref, operation, SIGN_VERIFY, facts)
        if algorithm not in asymmetric.SIGNING_ALGORITHMS_FOR_SPEC.get(key.key_spec, ()):
            raise InvalidKeyUsageException.incompatible(algorithm, key.key_spec)
        try:
            asymmetric.check_signing_request(key.key_spec, algorithm, message, message_type)
        except asymmetric.InvalidDigestLength:
            raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.") from None
        except asymmetric.IncompatibleAlgorithm:
            raise ValidationException(
                f"MessageType {message_type} is not valid for signing algorithm {algorithm}."
            ) from None
        except asymmetric.UnsupportedAlgorithm:
            raise UnsupportedOperationException(
                f"Signing algorithm {algorithm} is not supported by this Trent server."
            ) from None
        return key

    def sign(
        self, caller: Caller, key_ref: str, message: bytes, message_type: str | None, algorithm: str, dry_run: bool
    ) -> SignResult:
        kind = message_type or "RAW"
        key = self._signing_key(caller, key_ref, "Sign", algorithm, message, kind)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        signature = asymmetric.sign(key.key_spec, self._private_key(key), algorithm, message, kind)
        return SignResult(key.arn, signature, algorithm)

    def verify(
        self,
        caller: Caller,
        key_ref: str,
        message: bytes,
        message_type: str | None,
        signature: bytes,
        algorithm: str,
        dry_run: bool,
    ) -> SignResult:
        kind = message_type or "RAW"
        key = self._signing_key(caller, key_ref, "Verify", algorithm, message, kind)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        public = asymmetric.public_key_der(self._private_key(key))
        if not asymmetric.verify(key.key_spec, public, algorithm, message, kind, signature):
            raise KMSInvalidSignatureException
        return SignResult(key.arn, signature, algorithm)

    # ----------------------------------------------------------------- GenerateMac / VerifyMac

    def _mac_key(self, caller: Caller, key_ref: str, operation: str, algorithm: str) -> Key:
        key = self._key_for_use(caller, key_ref, operation, GENERATE_VERIFY_MAC, {"kms:macalgorithm": algorithm})
        if hmac_keys.MAC_ALGORITHM_FOR_SPEC.get(key.key_spec) != algorithm:
            raise InvalidKeyUsageException.incompatible(algorithm, key.key_spec)
        return key

    def generate_mac(self, caller: Caller, key_ref: str, message: bytes, algorithm: str, dry_run: bool) -> MacResult:
        key = self._mac_key(caller, key_ref, "GenerateMac", algorithm)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        mac = hmac_keys.generate_mac(key.key_spec, self._private_key(key), algorithm, message)
        return MacResult(key.arn, mac, algorithm)

    def verify_mac(
        self, caller: Caller, key_ref: str, message: bytes, algorithm: str, mac: bytes, dry_run: bool
    ) -> MacResult:
        key = self._mac_key(caller, key_ref, "VerifyMac", algorithm)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        if not hmac_keys.verify_mac(key.key_spec, self._private_key(key), algorithm, message, mac):
            raise KMSInvalidMacException
        return MacResult(key.arn, mac, algorithm)

    # ----------------------------------------------------------------- DeriveSharedSecret

    def derive_shared_secret(
        self, caller: Caller, key_ref: str, algorithm: str, peer_public_key: bytes, dry_run: bool
    ) -> SharedSecretResult:
        key = self._key_for_use(
            caller, key_ref, "DeriveSharedSecret", KEY_AGREEMENT, {"kms:keyagreementalgorithm": algorithm}
        )
        if algorithm != ECDH:
            raise InvalidKeyUsageException.incompatible(algorithm, key.key_spec)
        try:
            asymmetric.check_peer_public_key(key.key_spec, peer_public_key)
        except asymmetric.CryptoKeyError:
            raise ValidationException from None
        if dry_run:
            raise DryRunOperationException.would_succeed()
        try:
            secret = asymmetric.derive_shared_secret(self._private_key(key), peer_public_key)
        except asymmetric.InvalidPublicKey:
            raise ValidationException from None
        return SharedSecretResult(key.arn, secret, key.origin)

    # ----------------------------------------------------------------- GenerateDataKeyPair

    def generate_data_key_pair(
        self,
        caller: Caller,
        key_ref: str,
        key_pair_spec: str,
        context: Mapping[str, str] | None,
        dry_run: bool,
        *,
        with_plaintext: bool,
    ) -> DataKeyPairResult:
        operation = "GenerateDataKeyPair" if with_plaintext else "GenerateDataKeyPairWithoutPlaintext"
        key = self._symmetric_key_for(
            caller, key_ref, f"kms:{operation}", operation, context, facts={"kms:datakeypairspec": key_pair_spec}
        )
        if not key.is_symmetric_encryption:
            raise InvalidKeyUsageException.usage(key.arn, key.key_usage, operation)
        if key_pair_spec not in asymmetric.DATA_KEY_PAIR_SPECS:
            raise UnsupportedOperationException(f"KeyPairSpec {key_pair_spec} is not supported in this Region.")
        if dry_run:
            raise DryRunOperationException.would_succeed()
        private, public = asymmetric.generate_key_pair(key_pair_spec)
        material_id, material = self._current_material(key)
        blob = ciphertext.encrypt(key.key_id, material_id, material, private, context)
        return DataKeyPairResult(key.arn, key_pair_spec, public, private, blob, material_id)

    # ----------------------------------------------------------------- RSA-OAEP (Encrypt, Decrypt, ReEncrypt)

    def _rsa_algorithm(self, key: Key, algorithm: str | None, context: Mapping[str, str] | None) -> str:
        chosen = algorithm or SYMMETRIC_DEFAULT
        if chosen not in asymmetric.ENCRYPTION_ALGORITHMS_FOR_SPEC.get(key.key_spec, ()):
            raise InvalidKeyUsageException.incompatible(chosen, key.key_spec)
        if context:
            raise ValidationException("EncryptionContext is not supported for asymmetric KMS keys.")
        return chosen

    def rsa_encrypt(
        self, key: Key, plaintext: bytes, algorithm: str | None, context: Mapping[str, str] | None
    ) -> tuple[bytes, str]:
        """(ciphertext, algorithm): the bare RSAES-OAEP ciphertext, as AWS returns it."""
        chosen = self._rsa_algorithm(key, algorithm, context)
        limit = asymmetric.oaep_plaintext_limit(key.key_spec, chosen)
        if len(plaintext) > limit:
            raise ValidationException(
                f"Algorithm {chosen} and key spec {key.key_spec} cannot encrypt data larger than {limit} bytes."
            )
        public = asymmetric.public_key_der(self._private_key(key))
        return asymmetric.rsa_encrypt(key.key_spec, public, chosen, plaintext), chosen

    def check_rsa_request(self, key: Key, algorithm: str | None, context: Mapping[str, str] | None) -> str:
        """The checks of an RSA Decrypt or Encrypt before any work (for DryRun)."""
        return self._rsa_algorithm(key, algorithm, context)

    def rsa_decrypt(
        self, key: Key, blob: bytes, algorithm: str | None, context: Mapping[str, str] | None
    ) -> tuple[bytes, str]:
        chosen = self._rsa_algorithm(key, algorithm, context)
        try:
            return asymmetric.rsa_decrypt(key.key_spec, self._private_key(key), chosen, blob), chosen
        except asymmetric.DecryptionFailed:
            raise InvalidCiphertextException from None


def uses_rsa_encryption(key: Key) -> bool:
    return key.key_usage == ENCRYPT_DECRYPT and key.key_spec in asymmetric.ENCRYPTION_ALGORITHMS_FOR_SPEC
