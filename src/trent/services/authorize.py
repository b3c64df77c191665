"""The single authorization decision point.

Key operations: what AWS's default key policy means (a key's own account may use and manage it, no
other account may). Identity (IAM/STS) actions: an account's root may do everything; other
principals need identity policies, evaluated here once the policy engine is wired in.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from trent.domain.errors import AccessDeniedException
from trent.domain.identity import Caller
from trent.domain.ids import account_root_arn
from trent.domain.keys import Key


class TrustingRole(Protocol):
    @property
    def arn(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def assume_role_policy_document(self) -> str: ...


def authorize(caller: Caller, action: str, key: Key | None) -> None:
    """Raise AccessDeniedException unless ``caller`` may perform ``action`` (on ``key``)."""
    if key is None:
        return
    if key.account_id != caller.account_id:
        raise AccessDeniedException.no_resource_policy(caller.arn, action, key.arn)


def authorize_identity_action(caller: Caller, action: str, resource: str) -> None:
    """IAM and STS actions, authorized by the caller's identity policies alone (as in AWS)."""
    if caller.is_root:
        return
    raise AccessDeniedException.no_identity_policy(caller.arn, action, resource)


def authorize_assume_role(caller: Caller, role: TrustingRole) -> None:
    """sts:AssumeRole: the role's trust policy must allow the caller (directly or its account)."""
    if _trust_policy_names(role.assume_role_policy_document, caller):
        return
    raise AccessDeniedException(
        f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role.arn}"
    )


def _trust_policy_names(document: str, caller: Caller) -> bool:
    try:
        policy = json.loads(document)
    except ValueError:
        return False
    statements: Any = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, dict):
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principals = statement.get("Principal", {})
        names = principals.get("AWS", []) if isinstance(principals, dict) else [principals]
        names = [names] if isinstance(names, str) else names
        matches = (
            caller.arn in names
            or "*" in names
            or (caller.is_root and (account_root_arn(caller.account_id) in names or caller.account_id in names))
        )
        if matches and statement.get("Effect") == "Deny":
            return False
        if matches and statement.get("Effect") == "Allow":
            allowed = True
    return allowed
