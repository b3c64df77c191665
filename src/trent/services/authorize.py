"""The single authorization decision point, AWS's evaluation logic for KMS.

For an action on a key:
  1. an explicit Deny in the key policy or in the caller's identity policies denies;
  2. an Allow in the key policy that names the caller itself allows (cross-account too, if the
     caller's identity policies also allow, as AWS requires for another account's key);
  3. an Allow in the key policy that names the caller's account delegates to the account: the
     account's root is allowed, any other principal needs an Allow in its identity policies;
  4. a grant for the caller covering the operation (and its encryption-context constraints) allows;
  5. otherwise the request is implicitly denied.
Actions without a key (CreateKey, ListKeys, IAM and STS actions) are decided by identity policies
alone; an account's root may do everything in its own account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from trent.domain.audit import cloudtrail_time
from trent.domain.errors import AccessDeniedException, MalformedPolicyDocumentException
from trent.domain.grants import Grant
from trent.domain.identity import Caller
from trent.domain.ids import account_root_arn
from trent.domain.keys import Key
from trent.domain.policy import Decision, Principal, RequestContext, compile_cached

FactValue = str | Sequence[str] | None
Facts = Mapping[str, FactValue]


class LazyFacts(Mapping[str, FactValue]):
    """A request's condition keys, built on their first read.

    Most policies (the default key policy among them) have no conditions and read none, so the
    ~20 facts of a request are usually never needed; building them eagerly was a measurable share
    of every Encrypt.
    """

    __slots__ = ("_build", "_facts")

    def __init__(self, build: Callable[[], dict[str, FactValue]]) -> None:
        self._build = build
        self._facts: dict[str, FactValue] | None = None

    def _all(self) -> dict[str, FactValue]:
        if self._facts is None:
            self._facts = self._build()
        return self._facts

    def __getitem__(self, name: str) -> FactValue:
        return self._all()[name]

    def get(self, name: str, default: FactValue = None) -> FactValue:  # type: ignore[override]
        return self._all().get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class TrustingRole(Protocol):
    @property
    def arn(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def assume_role_policy_document(self) -> str: ...


def principal_of(caller: Caller) -> Principal:
    return Principal(arn=caller.arn, account_id=caller.account_id, role_arn=caller.role_arn, is_root=caller.is_root)


def _base_facts(caller: Caller) -> dict[str, FactValue]:
    now = (caller.request_time or datetime.now(UTC)).astimezone(UTC)
    facts: dict[str, FactValue] = {
        "aws:principalarn": caller.role_arn or caller.arn,
        "aws:principalaccount": caller.account_id,
        "aws:principaltype": "Account" if caller.is_root else caller.principal_type,
        "aws:userid": caller.principal_id or caller.account_id,
        "aws:currenttime": cloudtrail_time(now),
        "aws:epochtime": str(int(now.timestamp())),
        "aws:securetransport": "true" if caller.secure_transport else "false",
        "aws:requestedregion": caller.region,
        "kms:calleraccount": caller.account_id,
    }
    if caller.source_ip:
        facts["aws:sourceip"] = caller.source_ip
    if caller.user_name:
        facts["aws:username"] = caller.user_name
    if caller.session_issued is not None:
        facts["aws:tokenissuetime"] = cloudtrail_time(caller.session_issued.astimezone(UTC))
    return facts


def _key_facts(key: Key, facts: dict[str, str | Sequence[str] | None]) -> None:
    facts["kms:keyspec"] = key.key_spec
    facts["kms:customermasterkeyspec"] = key.key_spec
    facts["kms:keyusage"] = key.key_usage
    facts["kms:customermasterkeyusage"] = key.key_usage
    facts["kms:keyorigin"] = key.origin
    facts["kms:multiregion"] = "true" if key.multi_region else "false"
    for tag_key, tag_value in key.tags.items():
        facts[f"aws:resourcetag/{tag_key.lower()}"] = tag_value


def context_facts(context: Mapping[str, str] | None) -> dict[str, str | Sequence[str] | None]:
    """kms:EncryptionContext:<k> (key part case-insensitive) and kms:EncryptionContextKeys."""
    facts: dict[str, str | Sequence[str] | None] = {}
    if context:
        for k, v in context.items():
            facts[f"kms:encryptioncontext:{k.lower()}"] = v
        facts["kms:encryptioncontextkeys"] = list(context)
    return facts


def _identity_decision(caller: Caller, ctx: RequestContext) -> Decision:
    denied = allowed = False
    for text in caller.identity_policies:
        try:
            decision = compile_cached(text, "identity").evaluate_identity(ctx)
        except MalformedPolicyDocumentException:
            denied = True  # fail closed: a stored policy that no longer compiles denies
            continue
        if decision is Decision.DENY:
            denied = True
        elif decision is Decision.ALLOW:
            allowed = True
    if denied:
        return Decision.DENY
    return Decision.ALLOW if allowed else Decision.NONE


def _grant_allows(caller: Caller, operation: str, grants: Sequence[Grant], context: Mapping[str, str] | None) -> bool:
    identities = {caller.arn}
    if caller.role_arn:
        identities.add(caller.role_arn)
    if caller.is_root:
        identities.add(account_root_arn(caller.account_id, caller.region))
    for grant in grants:
        if (
            grant.grantee_principal in identities
            and operation in grant.operations
            and grant.allows_context(operation, context)
        ):
            return True
    return False


def authorize(
    caller: Caller,
    action: str,
    key: Key | None,
    *,
    grants: Sequence[Grant] = (),
    context: Mapping[str, str] | None = None,
    facts: Facts | None = None,
) -> None:
    """Raise AccessDeniedException (AWS's wording) unless ``caller`` may do ``action`` (on ``key``)."""
    if key is None:
        authorize_identity_action(caller, action, "*", facts)
        return

    def build_facts() -> dict[str, FactValue]:
        all_facts = _base_facts(caller)
        if facts:
            all_facts.update(facts)
        _key_facts(key, all_facts)
        all_facts.update(context_facts(context))
        return all_facts

    ctx = RequestContext(
        principal=principal_of(caller), action=action, resource=key.arn, condition_keys=LazyFacts(build_facts)
    )
    try:
        key_result = compile_cached(key.policy, "key").evaluate_key_policy(ctx)
    except MalformedPolicyDocumentException:
        key_result = None  # fail closed: an unparseable key policy allows nothing
    identity = (
        Decision.NONE if caller.is_root and caller.account_id == key.account_id else _identity_decision(caller, ctx)
    )
    if key_result is not None and key_result.decision is Decision.DENY:
        raise AccessDeniedException.explicit_deny(caller.arn, action, key.arn)
    if identity is Decision.DENY:
        raise AccessDeniedException.explicit_deny_identity(caller.arn, action, key.arn)
    same_account = caller.account_id == key.account_id
    if key_result is not None and key_result.decision is Decision.ALLOW:
        if key_result.direct and (same_account or identity is Decision.ALLOW or caller.is_root):
            return
        if key_result.via_account and (caller.is_root or identity is Decision.ALLOW):
            return
    operation = action.split(":", 1)[1]
    if _grant_allows(caller, operation, grants, context):
        return
    if key_result is not None and key_result.decision is Decision.ALLOW and not same_account:
        raise AccessDeniedException.no_identity_policy(caller.arn, action, key.arn)
    if key_result is not None and key_result.via_account and same_account:
        raise AccessDeniedException.no_identity_policy(caller.arn, action, key.arn)
    raise AccessDeniedException.no_resource_policy(caller.arn, action, key.arn)


def authorize_identity_action(caller: Caller, action: str, resource: str, facts: Facts | None = None) -> None:
    """Actions decided by identity policies alone: key-less KMS actions, IAM and STS."""
    if caller.is_root:
        return

    def build_facts() -> dict[str, FactValue]:
        all_facts = _base_facts(caller)
        if facts:
            all_facts.update(facts)
        return all_facts

    ctx = RequestContext(
        principal=principal_of(caller), action=action, resource=resource, condition_keys=LazyFacts(build_facts)
    )
    decision = _identity_decision(caller, ctx)
    if decision is Decision.DENY:
        raise AccessDeniedException.explicit_deny_identity(caller.arn, action, resource)
    if decision is not Decision.ALLOW:
        raise AccessDeniedException.no_identity_policy(caller.arn, action, resource)


def authorize_assume_role(caller: Caller, role: TrustingRole) -> None:
    """sts:AssumeRole: the role's trust policy must allow the caller; naming only the caller's
    account delegates to the caller's identity policies (and always admits that account's root)."""
    facts = _base_facts(caller)
    ctx = RequestContext(
        principal=principal_of(caller), action="sts:AssumeRole", resource=role.arn, condition_keys=facts
    )
    try:
        trust = compile_cached(role.assume_role_policy_document, "trust").evaluate_key_policy(ctx)
    except MalformedPolicyDocumentException:
        trust = None
    identity = Decision.NONE if caller.is_root else _identity_decision(caller, ctx)
    if trust is not None and trust.decision is Decision.ALLOW and identity is not Decision.DENY:
        same_account = caller.account_id == role.account_id
        if trust.direct and (same_account or caller.is_root or identity is Decision.ALLOW):
            return
        if trust.via_account and (caller.is_root or identity is Decision.ALLOW):
            return
    raise AccessDeniedException(
        f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role.arn}"
    )
