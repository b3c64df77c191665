"""Policy documents: validated and compiled once, then evaluated per request in microseconds.

Three kinds share one grammar: key policies and role trust policies (statements name principals),
and identity policies (statements must not). Evaluation is IAM's: an applicable Deny wins, else an
applicable Allow allows, else nothing applies. Statements without Action (or, outside trust
policies, without Resource) are accepted and never apply, as AWS does.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from trent.domain.errors import LimitExceededException, MalformedPolicyDocumentException
from trent.domain.policy.conditions import Test, parse_condition
from trent.domain.policy.model import ConditionKeys, Decision, KeyPolicyResult, Principal, RequestContext
from trent.domain.policy.patterns import ActionSet, PatternSet, Unresolved, split_variables
from trent.domain.policy.principals import ACCOUNT, DIRECT, PrincipalMatcher, PrincipalSet, parse_principal

PolicyKind = Literal["key", "identity", "trust"]

KEY_POLICY_MAX_BYTES = 32768  # AWS's key policy quota
VERSIONS = frozenset({"2012-10-17", "2008-10-17"})
VARIABLES_VERSION = "2012-10-17"  # older documents take ${...} literally

_TOP_LEVEL = frozenset({"Version", "Id", "Statement"})
_STATEMENT = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_ACTION = re.compile(r"\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?_-]+")
_EVERYONE = PrincipalMatcher(PrincipalSet(everyone=True), negated=False)
_NO_KEYS: Mapping[str, str] = {}

_RESULTS = {
    0: KeyPolicyResult(Decision.NONE),
    DIRECT: KeyPolicyResult(Decision.ALLOW, direct=True),
    ACCOUNT: KeyPolicyResult(Decision.ALLOW, via_account=True),
    DIRECT | ACCOUNT: KeyPolicyResult(Decision.ALLOW, direct=True, via_account=True),
}
_DENIED = KeyPolicyResult(Decision.DENY)


def _malformed(message: str) -> MalformedPolicyDocumentException:
    return MalformedPolicyDocumentException(message)


@dataclass(frozen=True, slots=True)
class _Statement:
    allow: bool
    actions: ActionSet
    not_action: bool
    resources: PatternSet | None  # None: the statement names no resource (trust policies)
    not_resource: bool
    principals: PrincipalMatcher  # everyone, for identity policies (never consulted there)
    tests: tuple[Test, ...]

    def applies_to(self, resource: str, keys: ConditionKeys) -> bool:
        """Resource and Condition (the action and principal are checked first, being cheaper)."""
        try:
            if self.resources is not None and self.resources.match(resource, keys) == self.not_resource:
                return False
            for test in self.tests:
                if not test.holds(keys):
                    return False
        except Unresolved:
            return False  # a variable the request cannot fill in voids the statement
        return True


# ----------------------------------------------------------------- parsing


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Python keeps the last of repeated names, AWS's parser may not: a reviewer and the engine
    # could read two different policies. Refuse instead of guessing.
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _malformed(f"Policy document repeats the element {name}.")
        result[name] = value
    return result


def _reject_constant(name: str) -> NoReturn:
    raise _malformed(f"Policy document contains {name}, which is not JSON.")


def _load(text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise _malformed("The policy document is not valid JSON.") from None


def _strings(element: str, raw: object) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(item, str) for item in items):
        raise _malformed(f"Policy statement element {element} must be a string or a list of strings.")
    return [item for item in items if isinstance(item, str)]


def _either(statement: dict[str, Any], name: str) -> tuple[object, bool] | None:
    """The value of ``name`` or ``Not<name>`` and whether it was the negated one; None if neither."""
    negated_name = f"Not{name}"
    if name in statement and negated_name in statement:
        raise _malformed(f"A policy statement cannot contain both {name} and {negated_name}.")
    if name in statement:
        return statement[name], False
    if negated_name in statement:
        return statement[negated_name], True
    return None


def _parse_statement(
    statement: object,
    *,
    kind: PolicyKind,
    variables: bool,
    principal_exists: Callable[[str], bool] | None,
) -> _Statement | None:
    """A compiled statement, or None for one that is valid but can never apply."""
    if not isinstance(statement, dict):
        raise _malformed("Each policy statement must be a JSON object.")
    for name in statement:
        if name not in _STATEMENT:
            raise _malformed(f"Policy statement contains an unknown element: {name}.")
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        raise _malformed("Policy statement Sid must be a string.")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise _malformed("Policy statement Effect must be Allow or Deny.")

    principal = _either(statement, "Principal")
    if kind == "identity":
        if principal is not None:
            raise _malformed("Policy document should not specify a principal.")
        principals = _EVERYONE
    else:
        if principal is None:
            raise _malformed("Policy contains a statement with no principal.")
        principals = parse_principal(principal[0], negated=principal[1], principal_exists=principal_exists)

    action = _either(statement, "Action")
    actions: ActionSet | None = None
    if action is not None:
        patterns = _strings("Action", action[0])
        for pattern in patterns:
            if not _ACTION.fullmatch(pattern):
                raise _malformed(f"Action {pattern!r} must be * or service:action, as in kms:Encrypt.")
        actions = ActionSet(patterns)

    resource = _either(statement, "Resource")
    resources: PatternSet | None = None
    if resource is not None:
        if kind == "trust":
            raise _malformed("Has prohibited field Resource")
        names = _strings("Resource", resource[0])
        for name in names:
            if name != "*" and not name.startswith("arn:"):
                raise _malformed(f"Resource {name!r} must be * or an ARN.")
        resources = PatternSet((split_variables(name, variables=variables) for name in names), arn=True)

    tests = parse_condition(statement["Condition"], variables=variables, kind=kind) if "Condition" in statement else ()

    if actions is None or (resources is None and kind != "trust"):
        return None
    return _Statement(
        allow=effect == "Allow",
        actions=actions,
        not_action=action is not None and action[1],
        resources=resources,
        not_resource=resource is not None and resource[1],
        principals=principals,
        tests=tests,
    )


class CompiledPolicy:
    """A validated policy document, ready to evaluate. Immutable; share it freely."""

    __slots__ = ("_allow", "_deny", "kind", "version")

    def __init__(self, kind: PolicyKind, version: str | None, statements: list[_Statement]) -> None:
        self.kind: PolicyKind = kind
        self.version = version
        # Denies first: one applicable Deny settles the answer whatever the Allows say.
        self._deny = tuple(s for s in statements if not s.allow)
        self._allow = tuple(s for s in statements if s.allow)

    @classmethod
    def parse(
        cls, text: str, *, kind: PolicyKind, principal_exists: Callable[[str], bool] | None = None
    ) -> CompiledPolicy:
        """Validate and compile ``text``; MalformedPolicyDocumentException when it is not a policy.

        ``principal_exists`` is asked about every IAM user and role ARN the document names; a False
        answer makes the principal invalid, as AWS refuses policies naming principals it cannot see.
        """
        if kind == "key" and len(text.encode()) > KEY_POLICY_MAX_BYTES:
            raise LimitExceededException(f"The key policy exceeds the quota of {KEY_POLICY_MAX_BYTES} bytes.")
        document = _load(text)
        if not isinstance(document, dict):
            raise _malformed("The policy document must be a JSON object.")
        for name in document:
            if name not in _TOP_LEVEL:
                raise _malformed(f"Policy document contains an unknown element: {name}.")
        version = document.get("Version")
        if version is not None and version not in VERSIONS:
            raise _malformed("Policy document Version must be 2012-10-17 or 2008-10-17.")
        if "Id" in document and not isinstance(document["Id"], str):
            raise _malformed("Policy document Id must be a string.")
        raw_statements = document.get("Statement")
        if isinstance(raw_statements, dict):
            raw_statements = [raw_statements]
        if not isinstance(raw_statements, list) or not raw_statements:
            raise _malformed("Policy document must contain at least one Statement.")
        variables = version == VARIABLES_VERSION
        statements = []
        for raw in raw_statements:
            statement = _parse_statement(raw, kind=kind, variables=variables, principal_exists=principal_exists)
            if statement is not None:
                statements.append(statement)
        return cls(kind, version, statements)

    # ------------------------------------------------------------- evaluation

    def evaluate_key_policy(self, ctx: RequestContext) -> KeyPolicyResult:
        """A key (or trust) policy's answer for ``ctx``, with where an ALLOW came from."""
        if self.kind == "identity":
            raise ValueError("an identity policy names no principals; use evaluate_identity")
        action = ctx.action.lower()
        principal = ctx.principal
        resource = ctx.resource
        keys = ctx.condition_keys
        for statement in self._deny:
            if (
                statement.actions.match(action) != statement.not_action
                and statement.principals.match(principal)
                and statement.applies_to(resource, keys)
            ):
                return _DENIED
        found = 0
        for statement in self._allow:
            if statement.actions.match(action) == statement.not_action:
                continue
            bits = statement.principals.match(principal)
            # Only statements that could add a source not yet found are worth their conditions.
            if bits & ~found and statement.applies_to(resource, keys):
                found |= bits
                if found == DIRECT | ACCOUNT:
                    break
        return _RESULTS[found]

    def evaluate_identity(self, ctx: RequestContext) -> Decision:
        """An identity policy's answer for ``ctx`` (the policy is the caller's own: no principals)."""
        if self.kind != "identity":
            raise ValueError("a key or trust policy names principals; use evaluate_key_policy")
        action = ctx.action.lower()
        resource = ctx.resource
        keys = ctx.condition_keys
        for statement in self._deny:
            if statement.actions.match(action) != statement.not_action and statement.applies_to(resource, keys):
                return Decision.DENY
        for statement in self._allow:
            if statement.actions.match(action) != statement.not_action and statement.applies_to(resource, keys):
                return Decision.ALLOW
        return Decision.NONE

    def allows_put_key_policy_for(
        self,
        principal: Principal,
        identity_allows: Callable[[], bool],
        *,
        resource: str = "*",
        condition_keys: ConditionKeys = _NO_KEYS,
    ) -> bool:
        """The lockout safety check: could ``principal`` still call kms:PutKeyPolicy under this policy?

        ``identity_allows`` is asked only when the policy merely delegates to the caller's account
        (and the caller is not that account's root). Pass the key's ARN as ``resource`` when it is
        known, so that statements naming the key by ARN count.
        """
        result = self.evaluate_key_policy(RequestContext(principal, "kms:PutKeyPolicy", resource, condition_keys))
        if result.decision is not Decision.ALLOW:
            return False
        if result.direct:
            return True
        return principal.is_root or identity_allows()


@functools.lru_cache(maxsize=1024)
def compile_cached(text: str, kind: PolicyKind) -> CompiledPolicy:
    """``CompiledPolicy.parse`` remembered by text: the service evaluates stored policies per request.

    No existence check of principals here; that belongs to the moment a policy is stored.
    """
    return CompiledPolicy.parse(text, kind=kind)
