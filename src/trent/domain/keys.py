"""KMS keys: metadata, key states, and which operation works in which state."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from trent.crypto.asymmetric import (
    ASYMMETRIC_KEY_SPECS,
    ENCRYPTION_ALGORITHMS_FOR_SPEC,
    KEY_AGREEMENT_SPECS,
    SIGNING_ALGORITHMS_FOR_SPEC,
)
from trent.crypto.hmac_keys import MAC_ALGORITHM_FOR_SPEC
from trent.crypto.kem import ML_KEM, ML_KEM_SPECS, UNSUPPORTED_SPECS
from trent.domain.errors import DisabledException, KMSInvalidStateException, TrentError


class KeyState(enum.StrEnum):
    CREATING = "Creating"
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"
    PENDING_IMPORT = "PendingImport"
    PENDING_REPLICA_DELETION = "PendingReplicaDeletion"
    UNAVAILABLE = "Unavailable"
    UPDATING = "Updating"


SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
SYMMETRIC_MATERIAL_BYTES = 32  # AES-256: generated and imported symmetric material alike
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
SIGN_VERIFY = "SIGN_VERIFY"
GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"
KEY_AGREEMENT = "KEY_AGREEMENT"
ENCAPSULATE_DECAPSULATE = "ENCAPSULATE_DECAPSULATE"
# Key specs of the model this server cannot create: ML_KEM_512 (no primitive in the installed cryptography).
UNSUPPORTED_KEY_SPECS: frozenset[str] = UNSUPPORTED_SPECS

# The deprecated CustomerMasterKeySpec enum lacks the newer specs; DescribeKey omits it for those.
_LEGACY_SPECS = frozenset(
    {
        "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
        "ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2",
    }
)  # fmt: skip


# Which key usages each key spec allows (spec/kms-api.md 3.2).
_RSA = frozenset({"ENCRYPT_DECRYPT", "SIGN_VERIFY"})
_NIST_EC = frozenset({"SIGN_VERIFY", "KEY_AGREEMENT"})
USAGES_BY_SPEC: dict[str, frozenset[str]] = {
    "SYMMETRIC_DEFAULT": frozenset({"ENCRYPT_DECRYPT"}),
    "RSA_2048": _RSA, "RSA_3072": _RSA, "RSA_4096": _RSA,
    "ECC_NIST_P256": _NIST_EC, "ECC_NIST_P384": _NIST_EC, "ECC_NIST_P521": _NIST_EC,
    "ECC_SECG_P256K1": frozenset({"SIGN_VERIFY"}),
    "ECC_NIST_EDWARDS25519": frozenset({"SIGN_VERIFY"}),
    "ML_DSA_44": frozenset({"SIGN_VERIFY"}), "ML_DSA_65": frozenset({"SIGN_VERIFY"}),
    "ML_DSA_87": frozenset({"SIGN_VERIFY"}),
    "HMAC_224": frozenset({"GENERATE_VERIFY_MAC"}), "HMAC_256": frozenset({"GENERATE_VERIFY_MAC"}),
    "HMAC_384": frozenset({"GENERATE_VERIFY_MAC"}), "HMAC_512": frozenset({"GENERATE_VERIFY_MAC"}),
    "SM2": frozenset({"ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"}),
    **dict.fromkeys(ML_KEM_SPECS, frozenset({"ENCAPSULATE_DECAPSULATE"})),
}  # fmt: skip


@dataclass(slots=True)
class Key:
    """A KMS key's metadata. Its material lives apart, sealed, as ``Material`` records."""

    key_id: str
    account_id: str
    region: str
    arn: str
    creation_date: datetime
    description: str
    key_spec: str
    key_usage: str
    origin: str
    key_manager: str
    state: KeyState
    policy: str
    multi_region: bool = False
    deletion_date: datetime | None = None
    current_material_id: str | None = None
    rotation_period_days: int | None = None  # None: automatic rotation is off
    next_rotation_date: datetime | None = None
    on_demand_rotations: int = 0
    expiration_model: str | None = None  # EXTERNAL keys, once material was imported
    valid_to: datetime | None = None  # KEY_MATERIAL_EXPIRES: the earliest expiry of its material
    primary_region: str | None = None  # multi-Region keys: where the primary is
    pending_window_days: int | None = None  # PendingReplicaDeletion: the window once replicas are gone
    on_demand_rotation_start_date: datetime | None = None  # an on-demand rotation is under way

    @property
    def is_primary(self) -> bool:
        """A single-Region key, or the primary of a multi-Region key."""
        return not self.multi_region or self.primary_region in (None, self.region)

    # The state to restore when a pending deletion is cancelled is always Disabled (AWS), so no
    # previous state is kept.
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.state is KeyState.ENABLED

    @property
    def customer_master_key_spec(self) -> str | None:
        return self.key_spec if self.key_spec in _LEGACY_SPECS else None

    @property
    def is_symmetric_encryption(self) -> bool:
        return self.key_spec == SYMMETRIC_DEFAULT and self.key_usage == ENCRYPT_DECRYPT

    @property
    def is_asymmetric(self) -> bool:
        return self.key_spec in ASYMMETRIC_KEY_SPECS

    @property
    def is_hmac(self) -> bool:
        return self.key_spec in MAC_ALGORITHM_FOR_SPEC

    @property
    def supports_rotation(self) -> bool:
        """Only symmetric encryption keys rotate (AWS_KMS automatically, EXTERNAL on demand)."""
        return self.is_symmetric_encryption and self.origin in ("AWS_KMS", "EXTERNAL")

    def algorithms(self) -> tuple[str, tuple[str, ...]] | None:
        """The one algorithm list DescribeKey and GetPublicKey show: (member name, values in AWS's order)."""
        return algorithms_for(self.key_spec, self.key_usage)


def algorithms_for(spec: str, usage: str) -> tuple[str, tuple[str, ...]] | None:
    if usage == ENCRYPT_DECRYPT:
        values = (SYMMETRIC_DEFAULT,) if spec == SYMMETRIC_DEFAULT else ENCRYPTION_ALGORITHMS_FOR_SPEC.get(spec, ())
        return "EncryptionAlgorithms", values
    if usage == SIGN_VERIFY:
        return "SigningAlgorithms", SIGNING_ALGORITHMS_FOR_SPEC.get(spec, ())
    if usage == GENERATE_VERIFY_MAC:
        mac = MAC_ALGORITHM_FOR_SPEC.get(spec)
        return "MacAlgorithms", (mac,) if mac else ()
    if usage == KEY_AGREEMENT:
        return "KeyAgreementAlgorithms", ("ECDH",) if spec in KEY_AGREEMENT_SPECS else ()
    if usage == ENCAPSULATE_DECAPSULATE:
        return "EncapsulationAlgorithms", (ML_KEM,) if spec in ML_KEM_SPECS else ()
    return None


@dataclass(frozen=True, slots=True)
class Material:
    """One version of a key's material, as stored: sealed under the root of trust.

    Imported material that was deleted or expired keeps its row with empty ``sealed``: a reimport
    must bring the same material back (AWS keeps the KeyMaterialId).
    """

    key_id: str
    material_id: str  # 64 lowercase hex, AWS's KeyMaterialId
    sealed: bytes
    created_at: datetime
    rotation_date: datetime | None = None  # None for the first material and for pending material
    rotation_type: str | None = None  # AUTOMATIC or ON_DEMAND
    pending_rotation: bool = False  # imported, waiting for RotateKeyOnDemand
    expiration_model: str | None = None  # imported material only
    valid_to: datetime | None = None
    description: str | None = None

    @property
    def present(self) -> bool:
        return bool(self.sealed)


@dataclass(frozen=True, slots=True)
class ImportToken:
    """What GetParametersForImport handed out: a wrapping key (sealed) bound to one key, for 24 hours."""

    token_id: str
    region: str
    key_id: str
    wrapping_algorithm: str
    wrapping_key_spec: str
    sealed_private: bytes
    valid_to: datetime


ROTATION_AUTOMATIC = "AUTOMATIC"
ROTATION_ON_DEMAND = "ON_DEMAND"
DEFAULT_ROTATION_PERIOD_DAYS = 365
MAX_ON_DEMAND_ROTATIONS = 25


# ----------------------------------------------------------------- operation x state table

_PHRASE = {
    KeyState.PENDING_DELETION: "pending deletion",
    KeyState.PENDING_REPLICA_DELETION: "pending deletion",
    KeyState.PENDING_IMPORT: "pending import",
    KeyState.UNAVAILABLE: "unavailable",
    KeyState.CREATING: "creating",
    KeyState.UPDATING: "updating",
}


class StateRule(enum.Enum):
    """Groups of the AWS key-state table (spec/kms-api.md section 5.2)."""

    CRYPTO = "crypto"  # Encrypt, Decrypt, GenerateDataKey*, ReEncrypt, Sign, ...
    ANY = "any"  # DescribeKey, GetKeyPolicy, ListResourceTags, DeleteAlias, ...
    MANAGE = "manage"  # TagResource, UntagResource, UpdateKeyDescription, CreateAlias target
    ENABLE_DISABLE = "enable_disable"
    SCHEDULE_DELETION = "schedule_deletion"
    CANCEL_DELETION = "cancel_deletion"
    CREATE_GRANT = "create_grant"


_PENDING_DELETION = (KeyState.PENDING_DELETION, KeyState.PENDING_REPLICA_DELETION)


def check_state(key: Key, rule: StateRule) -> None:
    """Raise the AWS error for using ``key`` in its current state under ``rule``."""
    error = state_error(key, rule)
    if error is not None:
        raise error


def state_error(key: Key, rule: StateRule) -> TrentError | None:
    state = key.state
    if rule is StateRule.ANY:
        return None
    if rule is StateRule.CANCEL_DELETION:
        if state in _PENDING_DELETION:
            return None
        return KMSInvalidStateException.in_state(key.arn, "not pending deletion")
    if state in _PENDING_DELETION:
        return KMSInvalidStateException.in_state(key.arn, "pending deletion")
    if rule is StateRule.MANAGE:
        return None
    if rule is StateRule.SCHEDULE_DELETION:
        return _invalid(key) if state is KeyState.UPDATING else None
    if rule is StateRule.ENABLE_DISABLE:
        if state in (KeyState.ENABLED, KeyState.DISABLED, KeyState.UNAVAILABLE):
            return None
        return _invalid(key)
    if rule is StateRule.CREATE_GRANT:
        if state in (KeyState.ENABLED, KeyState.UNAVAILABLE, KeyState.UPDATING):
            return None
        if state is KeyState.DISABLED:
            return DisabledException.disabled(key.arn)
        return _invalid(key)
    # CRYPTO
    if state in (KeyState.ENABLED, KeyState.UPDATING):
        return None
    if state is KeyState.DISABLED:
        return DisabledException.disabled(key.arn)
    return _invalid(key)


def _invalid(key: Key) -> KMSInvalidStateException:
    return KMSInvalidStateException.in_state(key.arn, _PHRASE.get(key.state, key.state.value))
