"""Grant use cases: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trent.crypto.random import random_bytes
from trent.domain.errors import (
    AccessDeniedException,
    DryRunOperationException,
    InvalidGrantIdException,
    LimitExceededException,
    NotFoundException,
    ValidationException,
)
from trent.domain.grants import Grant, grant_id_from_token, grantable_operations, make_grant_token
from trent.domain.ids import account_root_arn, key_id_to_bytes, parse_key_reference
from trent.domain.keys import Key, StateRule, check_state
from trent.domain.paging import Page
from trent.services.authorize import authorize, authorize_identity_action
from trent.services.key_access import KeyAccess
from trent.services.ports import Clock, Store
from trent.services.request import RequestContext

MAX_GRANTS_PER_KEY = 50_000
_GRANT_ID = re.compile(r"^[0-9a-f]{64}$")
_PRINCIPAL = re.compile(
    r"^(arn:aws[a-z-]*:iam::\d{12}:(root|user/.+|role/.+|federated-user/.+)"
    r"|arn:aws[a-z-]*:sts::\d{12}:(assumed-role/.+/.+|federated-user/.+)"
    r"|[a-z0-9.-]+\.amazonaws\.com)$"
)
MAX_CONSTRAINT_PAIRS = 8
MAX_CONSTRAINT_VALUE = 384


def _check_constraint(member: str, pairs: Mapping[str, str] | None) -> None:
    """AWS's limits on grant constraints: at most 8 pairs, values of at most 384 characters."""
    if pairs is None:
        return
    path = f"constraints.{member}"
    if len(pairs) > MAX_CONSTRAINT_PAIRS:
        raise ValidationException.violation(
            path, f"Member must have length less than or equal to {MAX_CONSTRAINT_PAIRS}"
        )
    if any(len(value) > MAX_CONSTRAINT_VALUE for value in pairs.values()):
        raise ValidationException.violation(
            path, f"Map value must have length less than or equal to {MAX_CONSTRAINT_VALUE}"
        )


@dataclass(frozen=True, slots=True)
class CreatedGrant:
    grant_id: str
    grant_token: str


class Grants:
    """Grant use cases: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant."""

    def __init__(self, keys: KeyAccess, store: Store, clock: Clock) -> None:
        self._keys = keys
        self._store = store
        self._clock = clock

    def _key(self, request: RequestContext, key_ref: str) -> Key:
        return self._keys.resolve(request, key_ref, allow_alias=False)

    def create_grant(
        self,
        request: RequestContext,
        key_ref: str,
        grantee_principal: str,
        operations: Sequence[str],
        retiring_principal: str | None,
        constraints: Mapping[str, Mapping[str, str]] | None,
        name: str | None,
        dry_run: bool,
    ) -> CreatedGrant:
        caller = request.caller
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        equals = (constraints or {}).get("EncryptionContextEquals")
        subset = (constraints or {}).get("EncryptionContextSubset")
        facts: dict[str, str | Sequence[str] | None] = {
            "kms:grantoperations": list(operations),
            "kms:granteeprincipal": grantee_principal,
            "kms:retiringprincipal": retiring_principal,
            "kms:grantisforawsresource": "false",
        }
        if equals is not None:
            facts["kms:grantconstrainttype"] = "EncryptionContextEquals"
        elif subset is not None:
            facts["kms:grantconstrainttype"] = "EncryptionContextSubset"
        self._keys.authorize(request, "kms:CreateGrant", key, facts=facts)
        check_state(key, StateRule.CREATE_GRANT)
        if not operations:
            raise ValidationException.violation(
                "operations", "Member must have length greater than or equal to 1", "[]"
            )
        grantable = grantable_operations(key.key_spec, key.key_usage)
        unsupported = [op for op in operations if op not in grantable]
        if unsupported:
            raise ValidationException(
                f"Grant operations [{', '.join(unsupported)}] are not supported for this key (key spec {key.key_spec})."
            )
        for member, pairs in (("encryptionContextEquals", equals), ("encryptionContextSubset", subset)):
            _check_constraint(member, pairs)
        for principal in (grantee_principal, retiring_principal):
            if principal is not None and not _PRINCIPAL.match(principal):
                raise ValidationException(f"{principal} is not a valid principal.")
        self._check_child_grant(request, key, operations, equals, subset)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        candidate = Grant(
            grant_id=random_bytes(32).hex(),
            key_id=key.key_id,
            region=key.region,
            key_account_id=key.account_id,
            name=name,
            grantee_principal=grantee_principal,
            retiring_principal=retiring_principal,
            operations=tuple(operations),
            encryption_context_equals=dict(equals) if equals is not None else None,
            encryption_context_subset=dict(subset) if subset is not None else None,
            creation_date=self._clock.now(),
            issuing_account=account_root_arn(caller.account_id, caller.region),
        )
        grant = candidate
        existing = [g for g in self._store.grants_of_key(key.region, key.key_id) if name is not None and g.name == name]
        same = next((g for g in existing if g.same_request(candidate)), None)
        if same is not None:
            grant = same  # a retry: the original grant, with a new token
        else:
            if self._store.count_grants(key.region, key.key_id) >= MAX_GRANTS_PER_KEY:
                raise LimitExceededException(f"Grants per key limit of {MAX_GRANTS_PER_KEY} exceeded for {key.arn}.")
            self._store.insert_grant(candidate)
        return CreatedGrant(
            grant.grant_id, make_grant_token(grant.grant_id, key_id_to_bytes(key.key_id)[1], random_bytes(16))
        )

    def _check_child_grant(
        self,
        request: RequestContext,
        key: Key,
        operations: Sequence[str],
        equals: Mapping[str, str] | None,
        subset: Mapping[str, str] | None,
    ) -> None:
        """A principal whose CreateGrant comes only from a grant may delegate only what it holds."""
        caller = request.caller
        try:
            authorize(caller, "kms:CreateGrant", key)
        except AccessDeniedException:
            pass
        else:
            return  # allowed by policy: may grant any grant operation
        parents = [
            g
            for g in self._store.grants_of_key(key.region, key.key_id)
            if "CreateGrant" in g.operations and g.grantee_principal in {caller.arn, caller.role_arn}
        ]
        for parent in parents:
            if not set(operations) <= set(parent.operations):
                continue
            if parent.encryption_context_equals is not None and dict(equals or {}) != dict(
                parent.encryption_context_equals
            ):
                continue
            if parent.encryption_context_subset is not None:
                child = dict(equals or subset or {})
                if not all(child.get(k) == v for k, v in parent.encryption_context_subset.items()):
                    continue
            return
        raise AccessDeniedException.no_resource_policy(caller.arn, "kms:CreateGrant", key.arn)

    def list_grants(
        self,
        request: RequestContext,
        key_ref: str,
        grant_id: str | None,
        grantee_principal: str | None,
        after: str | None,
        limit: int,
    ) -> Page[Grant]:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:ListGrants", key, facts={"kms:grantisforawsresource": "false"})
        if grant_id is not None and not _GRANT_ID.match(grant_id):
            raise InvalidGrantIdException(f"Grant ID {grant_id} is not valid.")
        return self._store.list_grants(key.region, key.key_id, grant_id, grantee_principal, after, limit)

    def list_retirable_grants(
        self, request: RequestContext, retiring_principal: str, after: str | None, limit: int
    ) -> Page[Grant]:
        caller = request.caller
        authorize_identity_action(caller, "kms:ListRetirableGrants", "*")
        return self._store.list_retirable_grants(retiring_principal, after, limit)

    def retire_grant(
        self, request: RequestContext, grant_token: str | None, key_ref: str | None, grant_id: str | None, dry_run: bool
    ) -> None:
        caller = request.caller
        if grant_token is not None:
            grant_id = grant_id_from_token(grant_token)
            grant = self._store.get_grant(grant_id)
        elif key_ref is not None and grant_id is not None:
            parse_key_reference(key_ref, caller.region, allow_alias=False)
            key = self._keys.resolve(request, key_ref, allow_alias=False)
            if not _GRANT_ID.match(grant_id):
                raise InvalidGrantIdException(f"Grant ID {grant_id} is not valid.")
            grant = self._store.get_grant(grant_id)
            if grant is not None and grant.key_id != key.key_id:
                grant = None
        else:
            raise ValidationException("Grant token OR (grant ID, key ID) must be specified")
        if grant is None:
            raise NotFoundException(f"Grant {grant_id} does not exist")
        if not self._may_retire(request, grant):
            raise AccessDeniedException(
                f"User: {caller.arn} is not authorized to perform: kms:RetireGrant on resource: "
                f"arn:aws:kms:{grant.region}:{grant.key_account_id}:key/{grant.key_id}"
            )
        if dry_run:
            raise DryRunOperationException.would_succeed()
        self._store.delete_grant(grant.grant_id)

    def _may_retire(self, request: RequestContext, grant: Grant) -> bool:
        caller = request.caller
        identities = {caller.arn}
        if caller.role_arn:
            identities.add(caller.role_arn)
        if grant.retiring_principal in identities:
            return True
        if grant.grantee_principal in identities and "RetireGrant" in grant.operations:
            return True
        # The account that created the grant, and principals it delegates kms:RetireGrant to.
        if grant.issuing_account == account_root_arn(caller.account_id, caller.region):
            try:
                authorize_identity_action(caller, "kms:RetireGrant", "*")
            except AccessDeniedException:
                return False
            return True
        return False

    def revoke_grant(self, request: RequestContext, key_ref: str, grant_id: str, dry_run: bool) -> None:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:RevokeGrant", key, facts={"kms:grantisforawsresource": "false"})
        if not _GRANT_ID.match(grant_id):
            raise InvalidGrantIdException(f"Grant ID {grant_id} is not valid.")
        grant = self._store.get_grant(grant_id)
        if grant is None or grant.key_id != key.key_id or grant.region != key.region:
            raise NotFoundException(f"Grant {grant_id} does not exist")
        if dry_run:
            raise DryRunOperationException.would_succeed()
        self._store.delete_grant(grant_id)
