"""What the policy engine is asked (who, what action, on what, in which circumstances) and what it answers."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# A request's condition keys, names lowercased. A multi-valued key is a sequence; None or an empty
# sequence means the key is absent. Booleans are "true"/"false", times ISO-8601 UTC, numbers decimal.
ConditionValue = str | Sequence[str] | None
ConditionKeys = Mapping[str, ConditionValue]


class Decision(enum.Enum):
    DENY = "Deny"
    ALLOW = "Allow"
    NONE = "None"  # no statement applies: an implicit deny unless something else allows


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller as the policy engine sees it.

    ``arn`` is the root (``arn:aws:iam::ACCT:root``), a user, or a role session
    (``arn:aws:sts::ACCT:assumed-role/ROLE/SESSION``); for a session ``role_arn`` is the role's IAM ARN
    with its path, so that policies naming the role match its sessions.
    """

    arn: str
    account_id: str
    role_arn: str | None = None
    is_root: bool = False


@dataclass(frozen=True, slots=True)
class RequestContext:
    principal: Principal
    action: str  # "kms:Encrypt"; matched case-insensitively
    resource: str  # the ARN acted on, or "*" for actions without a resource
    condition_keys: ConditionKeys = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeyPolicyResult:
    """A resource (key or trust) policy's answer.

    ``direct`` and ``via_account`` say where an ALLOW came from: a statement naming the caller
    itself (or everyone), and/or one naming the caller's account. The latter only delegates to the
    caller's identity policies, which must allow too unless the caller is that account's root.
    Both are False unless ``decision`` is ALLOW.
    """

    decision: Decision
    direct: bool = False
    via_account: bool = False
