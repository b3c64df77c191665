"""IAM identities of an account: users, roles, their inline policies, and role sessions.

ARNs and ids follow AWS: users are ``arn:aws:iam::ACCT:user/PATH/NAME`` with an ``AIDA...`` id,
roles ``arn:aws:iam::ACCT:role/PATH/NAME`` with an ``AROA...`` id, and a role session is
``arn:aws:sts::ACCT:assumed-role/NAME/SESSION`` (the role's path is not part of it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trent.domain.errors import MalformedPolicyDocumentException
from trent.domain.iam_errors import MalformedPolicyDocument
from trent.domain.policy import CompiledPolicy

DEFAULT_PATH = "/"
DEFAULT_MAX_SESSION_DURATION = 3600  # seconds; CreateRole's default and AssumeRole's default duration
MIN_SESSION_DURATION = 900
ROLE_CHAINING_LIMIT = 3600  # a session that assumes another role gets at most one hour
ACCESS_KEYS_PER_USER = 2
USERS_PER_ACCOUNT = 5000
ROLES_PER_ACCOUNT = 1000
# Inline policy quotas: the sum over one user's (role's) policies, white space not counted.
USER_POLICY_SIZE = 2048
ROLE_POLICY_SIZE = 10240

_POLICY_VERSIONS = frozenset({"2012-10-17", "2008-10-17"})
_ROLE_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/(.+)")


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    create_date: datetime


@dataclass(frozen=True, slots=True)
class User:
    account_id: str
    user_name: str
    path: str
    arn: str
    user_id: str  # AIDA...
    create_date: datetime
    tags: tuple[tuple[str, str], ...] = ()


# Not frozen: trent.services.authorize.TrustingRole declares plain (settable) attributes, which a
# frozen dataclass does not satisfy for mypy. Nothing mutates a Role.
@dataclass(slots=True)
class Role:
    account_id: str
    role_name: str
    path: str
    arn: str
    role_id: str  # AROA...
    assume_role_policy_document: str  # as the caller wrote it (IAM returns the original text)
    max_session_duration: int
    create_date: datetime
    description: str | None = None
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class InlinePolicy:
    account_id: str
    owner_type: str  # "user" or "role"
    owner_name: str
    policy_name: str
    document: str


@dataclass(frozen=True, slots=True)
class AccessKeyMetadata:
    """An access key as ListAccessKeys shows it; ``user_name`` None is a key of the account root."""

    access_key_id: str
    account_id: str
    user_name: str | None
    status: str
    create_date: datetime


@dataclass(frozen=True, slots=True)
class Session:
    """Temporary credentials of a role session. Only a SHA-256 digest of the token is kept."""

    access_key_id: str  # ASIA...
    account_id: str  # the role's account
    sealed_secret: bytes
    token_digest: bytes
    role_arn: str
    role_id: str
    role_name: str
    session_name: str
    issued: datetime
    expires: datetime


# ----------------------------------------------------------------- names and ARNs


def _partition(arn: str) -> str:
    return arn.split(":", 2)[1] if arn.startswith("arn:") else "aws"


def user_arn(partition: str, account_id: str, path: str, user_name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:user{path}{user_name}"


def role_arn(partition: str, account_id: str, path: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role{path}{role_name}"


def users_resource(partition: str, account_id: str) -> str:
    """The resource AWS names for account-wide user listings (ListUsers)."""
    return f"arn:{partition}:iam::{account_id}:user/"


def roles_resource(partition: str, account_id: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/"


def assumed_role_arn(role_arn_text: str, role_name: str, account_id: str, session_name: str) -> str:
    return f"arn:{_partition(role_arn_text)}:sts::{account_id}:assumed-role/{role_name}/{session_name}"


@dataclass(frozen=True, slots=True)
class RoleArn:
    partition: str
    account_id: str
    path: str
    role_name: str


def parse_role_arn(text: str) -> RoleArn | None:
    """Split ``arn:aws:iam::ACCT:role/PATH/NAME``; None when the text is not a role ARN."""
    match = _ROLE_ARN.fullmatch(text)
    if match is None:
        return None
    partition, account_id, rest = match.groups()
    path, _, name = rest.rpartition("/")
    if not name:
        return None
    return RoleArn(partition, account_id, f"/{path}/" if path else "/", name)


# ----------------------------------------------------------------- policy documents


def policy_size(document: str) -> int:
    """What IAM counts against the inline policy quotas: characters other than white space."""
    return sum(1 for char in document if not char.isspace())


def check_policy_document(document: str, *, trust: bool) -> None:
    """Structural checks IAM makes before storing a policy; MalformedPolicyDocument when they fail.

    A trust policy (a role's AssumeRolePolicyDocument) names principals and no resources; an
    identity policy names resources and no principals. Evaluation is the policy engine's job.
    """
    try:
        policy = json.loads(document)
    except ValueError:
        raise MalformedPolicyDocument.invalid_json() from None
    if not isinstance(policy, dict):
        raise MalformedPolicyDocument.syntax()
    version = policy.get("Version")
    if version is not None and version not in _POLICY_VERSIONS:
        raise MalformedPolicyDocument.syntax()
    statements: Any = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise MalformedPolicyDocument.syntax()
    for statement in statements:
        _check_statement(statement, trust=trust)
    # Then everything the engine checks (operators, condition values, principal shapes), so a
    # stored policy always compiles and none of its Denies can be lost at evaluation time.
    try:
        CompiledPolicy.parse(document, kind="trust" if trust else "identity")
    except MalformedPolicyDocumentException as exc:
        raise MalformedPolicyDocument(exc.message) from None


def _check_statement(statement: Any, *, trust: bool) -> None:
    if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
        raise MalformedPolicyDocument.syntax()
    if "Action" not in statement and "NotAction" not in statement:
        raise MalformedPolicyDocument("Policy statement must contain actions.")
    has_principal = "Principal" in statement or "NotPrincipal" in statement
    has_resource = "Resource" in statement or "NotResource" in statement
    if trust:
        if has_resource:
            raise MalformedPolicyDocument("Has prohibited field Resource")
        if not has_principal:
            raise MalformedPolicyDocument("Missing required field Principal")
    else:
        if has_principal:
            raise MalformedPolicyDocument("Policy document should not specify a principal.")
        if not has_resource:
            raise MalformedPolicyDocument("Policy statement must contain resources.")
