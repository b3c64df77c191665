"""Grants: allow-only delegations of some operations on one key to one principal."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from trent.domain.errors import InvalidGrantTokenException

# What each key type can grant (spec/kms-api.md 3.3 and 6.4).
SYMMETRIC_GRANT_OPERATIONS = frozenset(
    {
        "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "CreateGrant", "RetireGrant", "DescribeKey",
    }
)  # fmt: skip
_ALWAYS_GRANTABLE = frozenset({"CreateGrant", "RetireGrant", "DescribeKey"})
_GRANTABLE_BY_USAGE = {
    "ENCRYPT_DECRYPT": frozenset({"Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"}),
    "SIGN_VERIFY": frozenset({"Sign", "Verify", "GetPublicKey"}),
    "KEY_AGREEMENT": frozenset({"DeriveSharedSecret", "GetPublicKey"}),
    "ENCAPSULATE_DECAPSULATE": frozenset({"Encapsulate", "Decapsulate", "GetPublicKey"}),
    "GENERATE_VERIFY_MAC": frozenset({"GenerateMac", "VerifyMac"}),
}


def grantable_operations(key_spec: str, key_usage: str) -> frozenset[str]:
    """The grant operations a key of this spec and usage supports; others are a ValidationException."""
    if key_spec == "SYMMETRIC_DEFAULT":
        return SYMMETRIC_GRANT_OPERATIONS
    return _ALWAYS_GRANTABLE | _GRANTABLE_BY_USAGE.get(key_usage, frozenset())


# Operations whose requests carry an encryption context, so constraints can be checked.
CONTEXT_OPERATIONS = frozenset(
    {
        "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
    }
)  # fmt: skip

_TOKEN_VERSION = 1
_TOKEN_BYTES = 1 + 32 + 16


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: str  # 64 lowercase hex
    key_id: str
    region: str
    key_account_id: str
    name: str | None
    grantee_principal: str
    retiring_principal: str | None
    operations: tuple[str, ...]
    encryption_context_equals: Mapping[str, str] | None
    encryption_context_subset: Mapping[str, str] | None
    creation_date: datetime
    issuing_account: str  # arn:aws:iam::<account that created it>:root

    def has_constraints(self) -> bool:
        return self.encryption_context_equals is not None or self.encryption_context_subset is not None

    def allows_context(self, operation: str, context: Mapping[str, str] | None) -> bool:
        """Constraints: keys compare case-insensitively, values exactly (AWS's rule)."""
        if operation not in CONTEXT_OPERATIONS or not self.has_constraints():
            return True
        given = {k.lower(): v for k, v in (context or {}).items()}
        if self.encryption_context_equals is not None:
            wanted = {k.lower(): v for k, v in self.encryption_context_equals.items()}
            if given != wanted:
                return False
        if self.encryption_context_subset is not None:
            for k, v in self.encryption_context_subset.items():
                if given.get(k.lower()) != v:
                    return False
        return True

    def same_request(self, other: Grant) -> bool:
        """A retried CreateGrant with the same name and parameters returns the original grant."""
        return (
            self.grantee_principal == other.grantee_principal
            and self.retiring_principal == other.retiring_principal
            and sorted(self.operations) == sorted(other.operations)
            and _norm(self.encryption_context_equals) == _norm(other.encryption_context_equals)
            and _norm(self.encryption_context_subset) == _norm(other.encryption_context_subset)
        )


def _norm(context: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if context is None else dict(context)


def make_grant_token(grant_id: str, key_id_bytes: bytes, nonce: bytes) -> str:
    """Opaque and non-secret; a new one per CreateGrant call, all naming the same grant."""
    raw = bytes([_TOKEN_VERSION]) + bytes.fromhex(grant_id) + key_id_bytes
    return base64.urlsafe_b64encode(raw + nonce).decode("ascii")


def grant_id_from_token(token: str) -> str:
    """The grant a token names; InvalidGrantTokenException for anything that is not our token."""
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidGrantTokenException("Grant token is not valid.") from None
    if len(raw) < _TOKEN_BYTES or raw[0] != _TOKEN_VERSION:
        raise InvalidGrantTokenException("Grant token is not valid.")
    return raw[1:33].hex()
