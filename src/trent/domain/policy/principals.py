"""The Principal and NotPrincipal elements: validated at parse time, matched as set lookups.

A match is a bit mask: DIRECT when the statement names the caller itself (its user, role or
session ARN, or everyone), ACCOUNT when it names the caller's account (the account's root ARN or
its bare id), which in AWS delegates the decision to that account's identity policies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from trent.domain.errors import MalformedPolicyDocumentException
from trent.domain.policy.model import Principal

DIRECT = 1
ACCOUNT = 2

INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."

_PARTITION = r"aws[a-z-]*"
_NAME = r"[\w+=,.@-]+"
_PATH = r"(?:/[\x21-\x7e]*)?/"  # IAM paths: "/" or "/a/b/"
_ACCOUNT_ID = re.compile(r"\d{12}")
_ROOT = re.compile(rf"arn:({_PARTITION}):iam::(\d{{12}}):root")
_USER_OR_ROLE = re.compile(rf"arn:{_PARTITION}:iam::\d{{12}}:(?:user|role){_PATH}{_NAME}")
_SESSION = re.compile(rf"arn:{_PARTITION}:sts::\d{{12}}:(?:assumed-role/{_NAME}/{_NAME}|federated-user/{_NAME})")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*")
_FEDERATED = re.compile(rf"[a-z0-9][a-z0-9.-]*|arn:{_PARTITION}:iam::\d{{12}}:(?:saml-provider|oidc-provider)/\S+")
_CANONICAL_USER = re.compile(r"[0-9a-f]{64}")


def partition_of(arn: str) -> str:
    end = arn.find(":", 4)
    return arn[4:end] if arn.startswith("arn:") and end > 4 else "aws"


@dataclass(frozen=True, slots=True)
class PrincipalSet:
    everyone: bool = False
    # (partition, account id); partition None for a bare account id, which names it in any partition.
    accounts: frozenset[tuple[str | None, str]] = frozenset()
    arns: frozenset[str] = frozenset()  # users, roles, role sessions, federated users

    def match(self, principal: Principal) -> int:
        found = DIRECT if self.everyone else 0
        if principal.arn in self.arns or (principal.role_arn is not None and principal.role_arn in self.arns):
            found |= DIRECT
        if self.accounts and (
            (None, principal.account_id) in self.accounts
            or (partition_of(principal.arn), principal.account_id) in self.accounts
        ):
            found |= ACCOUNT
        return found


@dataclass(frozen=True, slots=True)
class PrincipalMatcher:
    principals: PrincipalSet
    negated: bool  # NotPrincipal

    def match(self, principal: Principal) -> int:
        found = self.principals.match(principal)
        if self.negated:
            # NotPrincipal names everyone outside the list; an account listed there takes all of
            # its principals out. What remains is "anyone", hence a direct match.
            return 0 if found else DIRECT
        return found


def _invalid() -> MalformedPolicyDocumentException:
    return MalformedPolicyDocumentException(INVALID_PRINCIPALS)


def _names(raw: object) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(item, str) for item in items):
        raise _invalid()
    return [item for item in items if isinstance(item, str)]


def parse_principal(raw: object, *, negated: bool, principal_exists: Callable[[str], bool] | None) -> PrincipalMatcher:
    if raw == "*":
        return PrincipalMatcher(PrincipalSet(everyone=True), negated)
    if not isinstance(raw, dict) or not raw:
        raise _invalid()
    everyone = False
    accounts: set[tuple[str | None, str]] = set()
    arns: set[str] = set()
    for kind, value in raw.items():
        names = _names(value)
        if kind == "AWS":
            for name in names:
                if name == "*":
                    everyone = True
                elif "*" in name or "?" in name:
                    raise _invalid()  # AWS allows a wildcard principal only as "*" on its own
                elif _ACCOUNT_ID.fullmatch(name):
                    accounts.add((None, name))
                elif (root := _ROOT.fullmatch(name)) is not None:
                    accounts.add((root.group(1), root.group(2)))
                elif _USER_OR_ROLE.fullmatch(name):
                    if principal_exists is not None and not principal_exists(name):
                        raise _invalid()
                    arns.add(name)
                elif _SESSION.fullmatch(name):
                    arns.add(name)
                else:
                    raise _invalid()
        elif kind == "Service":
            if not all(_SERVICE.fullmatch(name) for name in names):
                raise _invalid()
        elif kind == "Federated":
            if not all(_FEDERATED.fullmatch(name) for name in names):
                raise _invalid()
        elif kind == "CanonicalUser":
            if not all(_CANONICAL_USER.fullmatch(name) for name in names):
                raise _invalid()
        else:
            raise _invalid()
        # Service, federated and canonical-user principals are well formed but name no Trent caller.
    return PrincipalMatcher(PrincipalSet(everyone, frozenset(accounts), frozenset(arns)), negated)
