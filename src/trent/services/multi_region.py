"""Multi-Region keys: ReplicateKey, UpdatePrimaryRegion, the topology DescribeKey shows, and the
promotion of new replicas from Creating.

Related keys share their id (``mrk-...``) and their material (stored once,
by key id), so a ciphertext, signature or MAC made in one Region is usable in every other; their
policies, grants, tags, descriptions, aliases and states are their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from trent.domain.errors import (
    AlreadyExistsException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from trent.domain.ids import key_arn
from trent.domain.keys import Key, KeyState, StateRule, check_state
from trent.domain.policy import default_key_policy
from trent.services.aliases_tags import tag_facts, validated_new_tags
from trent.services.authorize import authorize
from trent.services.key_access import KeyAccess
from trent.services.key_policies import KeyPolicies
from trent.services.ports import Clock, Store
from trent.services.request import RequestContext

PRIMARY = "PRIMARY"
REPLICA = "REPLICA"


@dataclass(frozen=True, slots=True)
class MultiRegionConfiguration:
    key_type: str  # PRIMARY or REPLICA
    primary: Key
    replicas: tuple[Key, ...]


class MultiRegion:
    """Multi-Region use cases."""

    def __init__(self, keys: KeyAccess, policies: KeyPolicies, store: Store, clock: Clock) -> None:
        self._keys = keys
        self._policies = policies
        self._store = store
        self._clock = clock

    def multi_region_configuration(self, key: Key) -> MultiRegionConfiguration | None:
        if not key.multi_region:
            return None
        related = sorted(self._store.keys_with_id(key.key_id), key=lambda k: k.region)
        primary_region = key.primary_region or key.region
        primary = next((k for k in related if k.region == primary_region), key)
        replicas = tuple(k for k in related if k.region != primary_region)
        return MultiRegionConfiguration(PRIMARY if key.region == primary_region else REPLICA, primary, replicas)

    def replicate(
        self,
        request: RequestContext,
        key_ref: str,
        replica_region: str,
        policy: str | None,
        bypass_policy_lockout_safety_check: bool | None,
        description: str | None,
        tags: Sequence[tuple[str, str]],
    ) -> Key:
        """ReplicateKey, with the tag rules CreateKey applies."""
        return self.replicate_key(
            request,
            key_ref,
            replica_region,
            policy,
            bool(bypass_policy_lockout_safety_check),
            description,
            validated_new_tags({}, tags),
            tag_facts(tags),
        )

    def replicate_key(
        self,
        request: RequestContext,
        key_ref: str,
        replica_region: str,
        policy: str | None,
        bypass_policy_lockout_safety_check: bool,
        description: str | None,
        tags: dict[str, str],
        tag_facts: dict[str, str | Sequence[str] | None],
    ) -> Key:
        caller = request.caller
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:ReplicateKey", key, facts={"kms:replicaregion": replica_region})
        # Only a primary replicates, whatever the state of a replica asked to (AWS checks this first).
        if not key.multi_region or not key.is_primary:
            raise UnsupportedOperationException.not_primary(key.arn)
        check_state(key, StateRule.CRYPTO)
        if replica_region == key.region:
            raise ValidationException(f"The replica Region {replica_region} is the Region of the primary key.")
        replica_arn = key_arn(replica_region, key.account_id, key.key_id)
        if any(k.region == replica_region for k in self._store.keys_with_id(key.key_id)):
            raise AlreadyExistsException(f"Replica key {replica_arn} already exists.")
        in_replica_region = replace(caller, region=replica_region)
        create_facts: dict[str, str | Sequence[str] | None] = {
            "kms:keyspec": key.key_spec,
            "kms:keyusage": key.key_usage,
            "kms:keyorigin": key.origin,
            "kms:multiregion": "true",
            "kms:multiregionkeytype": REPLICA,
            "kms:primaryregion": key.region,
            **tag_facts,
        }
        authorize(in_replica_region, "kms:CreateKey", None, facts=create_facts)
        if tags:
            authorize(in_replica_region, "kms:TagResource", None, facts=create_facts)
        policy_text = (
            self._policies.checked(in_replica_region, policy, replica_arn, bypass=bypass_policy_lockout_safety_check)
            if policy is not None
            else default_key_policy(key.account_id, replica_region)
        )
        replica = replace(
            key,
            region=replica_region,
            arn=replica_arn,
            creation_date=self._clock.now(),
            description=description or "",
            state=KeyState.CREATING,
            policy=policy_text,
            deletion_date=None,
            pending_window_days=None,
            # Rotation is set on the primary; replicas follow its material.
            rotation_period_days=None,
            next_rotation_date=None,
            tags=dict(tags),
        )
        self._store.insert_key(replica)
        return replica

    def update_primary_region(self, request: RequestContext, key_ref: str, primary_region: str) -> None:
        caller = request.caller
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:UpdatePrimaryRegion", key, facts={"kms:primaryregion": primary_region})
        check_state(key, StateRule.CRYPTO)
        if not key.multi_region or not key.is_primary:
            raise UnsupportedOperationException.not_primary(key.arn)
        related = {k.region: k for k in self._store.keys_with_id(key.key_id)}
        new_primary = related.get(primary_region)
        if new_primary is None or primary_region == key.region:
            raise NotFoundException(
                f"Replica key {key_arn(primary_region, key.account_id, key.key_id)} does not exist."
            )
        self._keys.authorize_as(
            replace(caller, region=primary_region),
            "kms:UpdatePrimaryRegion",
            new_primary,
            facts={"kms:primaryregion": primary_region},
        )
        with self._store.transaction():
            for related_key in related.values():
                updated = replace(related_key, primary_region=primary_region)
                if related_key.region == primary_region:
                    # The rotation schedule moves with the primary role.
                    updated = replace(
                        updated,
                        rotation_period_days=key.rotation_period_days,
                        next_rotation_date=key.next_rotation_date,
                        on_demand_rotations=key.on_demand_rotations,
                    )
                elif related_key.region == key.region:
                    updated = replace(updated, rotation_period_days=None, next_rotation_date=None)
                self._store.update_key(updated)

    def promote_created_replicas(self, batch: int = 100) -> list[Key]:
        """Background task: replicas leave Creating (for PendingImport when their key imports material)."""
        promoted: list[Key] = []
        for key in self._store.keys_creating(batch):
            # A replica of an imported-material key gets its own import, as in AWS.
            state = KeyState.PENDING_IMPORT if key.origin == "EXTERNAL" else KeyState.ENABLED
            updated = replace(key, state=state)
            self._store.update_key(updated)
            promoted.append(updated)
        return promoted
