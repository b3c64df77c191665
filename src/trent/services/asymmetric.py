"""Use cases of asymmetric and HMAC keys: Sign, Verify, GenerateMac, VerifyMac, DeriveSharedSecret,
GetPublicKey, and RSA-OAEP for Encrypt, Decrypt and ReEncrypt (``RsaEncryption``).

Every key comes through ``KeyAccess`` (resolution -> authorization -> key state -> key usage);
then the algorithm and request checks -> DryRun -> the work. The cryptography itself is
``trent.crypto``; here its errors become AWS's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from trent.crypto import asymmetric, hmac_keys
from trent.domain.errors import (
    DryRunOperationException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    KMSInvalidMacException,
    KMSInvalidSignatureException,
    UnsupportedOperationException,
    ValidationException,
)
from trent.domain.keys import (
    ENCRYPT_DECRYPT,
    GENERATE_VERIFY_MAC,
    KEY_AGREEMENT,
    SIGN_VERIFY,
    SYMMETRIC_DEFAULT,
    Key,
    StateRule,
    check_state,
)
from trent.services.key_access import Facts, KeyAccess, alias_in
from trent.services.request import RequestContext

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


class AsymmetricKeys:
    """Sign/Verify, MAC, key agreement and GetPublicKey: the keys other than symmetric encryption keys."""

    def __init__(self, keys: KeyAccess) -> None:
        self._keys = keys

    # ----------------------------------------------------------------- GetPublicKey

    def get_public_key(self, request: RequestContext, key_ref: str) -> PublicKeyResult:
        key = self._keys.resolve(request, key_ref, allow_alias=True, use=True)
        self._keys.authorize(request, "kms:GetPublicKey", key, facts={"kms:requestalias": alias_in(key_ref)})
        check_state(key, StateRule.CRYPTO)
        if not key.is_asymmetric:
            raise UnsupportedOperationException(f"{key.arn} key spec {key.key_spec} is not valid for GetPublicKey.")
        return PublicKeyResult(key, asymmetric.public_key_der(self._keys.private_key(key)))

    # ----------------------------------------------------------------- Sign / Verify

    def _signing_key(
        self, request: RequestContext, key_ref: str, operation: str, algorithm: str, message: bytes, message_type: str
    ) -> Key:
        facts: Facts = {"kms:signingalgorithm": algorithm, "kms:messagetype": message_type}
        key = self._keys.for_use(request, key_ref, operation, SIGN_VERIFY, facts=facts)
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
        self,
        request: RequestContext,
        key_ref: str,
        message: bytes,
        message_type: str | None,
        algorithm: str,
        dry_run: bool,
    ) -> SignResult:
        kind = message_type or "RAW"
        key = self._signing_key(request, key_ref, "Sign", algorithm, message, kind)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        signature = asymmetric.sign(key.key_spec, self._keys.private_key(key), algorithm, message, kind)
        return SignResult(key.arn, signature, algorithm)

    def verify(
        self,
        request: RequestContext,
        key_ref: str,
        message: bytes,
        message_type: str | None,
        signature: bytes,
        algorithm: str,
        dry_run: bool,
    ) -> SignResult:
        kind = message_type or "RAW"
        key = self._signing_key(request, key_ref, "Verify", algorithm, message, kind)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        public = asymmetric.public_key_der(self._keys.private_key(key))
        if not asymmetric.verify(key.key_spec, public, algorithm, message, kind, signature):
            raise KMSInvalidSignatureException
        return SignResult(key.arn, signature, algorithm)

    # ----------------------------------------------------------------- GenerateMac / VerifyMac

    def _mac_key(self, request: RequestContext, key_ref: str, operation: str, algorithm: str) -> Key:
        key = self._keys.for_use(
            request, key_ref, operation, GENERATE_VERIFY_MAC, facts={"kms:macalgorithm": algorithm}
        )
        if hmac_keys.MAC_ALGORITHM_FOR_SPEC.get(key.key_spec) != algorithm:
            raise InvalidKeyUsageException.incompatible(algorithm, key.key_spec)
        return key

    def generate_mac(
        self, request: RequestContext, key_ref: str, message: bytes, algorithm: str, dry_run: bool
    ) -> MacResult:
        key = self._mac_key(request, key_ref, "GenerateMac", algorithm)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        mac = hmac_keys.generate_mac(key.key_spec, self._keys.private_key(key), algorithm, message)
        return MacResult(key.arn, mac, algorithm)

    def verify_mac(
        self, request: RequestContext, key_ref: str, message: bytes, algorithm: str, mac: bytes, dry_run: bool
    ) -> MacResult:
        key = self._mac_key(request, key_ref, "VerifyMac", algorithm)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        if not hmac_keys.verify_mac(key.key_spec, self._keys.private_key(key), algorithm, message, mac):
            raise KMSInvalidMacException
        return MacResult(key.arn, mac, algorithm)

    # ----------------------------------------------------------------- DeriveSharedSecret

    def derive_shared_secret(
        self, request: RequestContext, key_ref: str, algorithm: str, peer_public_key: bytes, dry_run: bool
    ) -> SharedSecretResult:
        key = self._keys.for_use(
            request, key_ref, "DeriveSharedSecret", KEY_AGREEMENT, facts={"kms:keyagreementalgorithm": algorithm}
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
            secret = asymmetric.derive_shared_secret(self._keys.private_key(key), peer_public_key)
        except asymmetric.InvalidPublicKey:
            raise ValidationException from None
        return SharedSecretResult(key.arn, secret, key.origin)


class RsaEncryption:
    """RSA-OAEP for Encrypt, Decrypt and ReEncrypt with an RSA ENCRYPT_DECRYPT key."""

    def __init__(self, keys: KeyAccess) -> None:
        self._keys = keys

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
        public = asymmetric.public_key_der(self._keys.private_key(key))
        return asymmetric.rsa_encrypt(key.key_spec, public, chosen, plaintext), chosen

    def check_rsa_request(self, key: Key, algorithm: str | None, context: Mapping[str, str] | None) -> str:
        """The checks of an RSA Decrypt or Encrypt before any work (for DryRun)."""
        return self._rsa_algorithm(key, algorithm, context)

    def rsa_decrypt(
        self, key: Key, blob: bytes, algorithm: str | None, context: Mapping[str, str] | None
    ) -> tuple[bytes, str]:
        chosen = self._rsa_algorithm(key, algorithm, context)
        try:
            return asymmetric.rsa_decrypt(key.key_spec, self._keys.private_key(key), chosen, blob), chosen
        except asymmetric.DecryptionFailed:
            raise InvalidCiphertextException from None


def uses_rsa_encryption(key: Key) -> bool:
    return key.key_usage == ENCRYPT_DECRYPT and key.key_spec in asymmetric.ENCRYPTION_ALGORITHMS_FOR_SPEC
