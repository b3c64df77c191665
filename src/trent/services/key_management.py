"""Key management: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, Enable/DisableKey,
Schedule/CancelKeyDeletion (and the deletion at the end of the window), GetKeyLastUsage and the
key policy operations.

Every existing key comes through ``KeyAccess`` (resolution -> authorization -> key state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from trent.domain import ciphertext
from trent.domain.audit import KeyUsage
from trent.domain.errors import (
    CustomKeyStoreNotFoundException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from trent.domain.identity import Caller
from trent.domain.ids import key_arn, new_key_id
from trent.domain.keys import (
    ENCRYPT_DECRYPT,
    SYMMETRIC_DEFAULT,
    UNSUPPORTED_KEY_SPECS,
    USAGES_BY_SPEC,
    Key,
    KeyState,
    Material,
    StateRule,
    check_state,
)
from trent.domain.paging import Page
from trent.domain.policy import DEFAULT_POLICY_NAME, default_key_policy
from trent.services.aliases_tags import tag_facts, validated_new_tags
from trent.services.authorize import authorize
from trent.services.key_access import KeyAccess
from trent.services.key_policies import KeyPolicies
from trent.services.keycache import material_aad
from trent.services.material import new_key_material
from trent.services.material_pool import MaterialPool
from trent.services.ports import Clock, RootOfTrust, Store
from trent.services.request import RequestContext

MIN_PENDING_WINDOW_DAYS = 7
MAX_PENDING_WINDOW_DAYS = 30
DEFAULT_PENDING_WINDOW_DAYS = 30


class KeyManagement:
    def __init__(
        self,
        keys: KeyAccess,
        policies: KeyPolicies,
        store: Store,
        root: RootOfTrust,
        clock: Clock,
        material_pool: MaterialPool | None = None,
    ) -> None:
        self._keys = keys
        self._policies = policies
        self._store = store
        self._root = root
        self._clock = clock
        self._material_pool = material_pool

    def create_key(
        self,
        request: RequestContext,
        *,
        description: str | None,
        key_usage: str | None,
        key_spec: str | None,
        customer_master_key_spec: str | None,
        origin: str | None,
        policy: str | None,
        tags: Sequence[tuple[str, str]],
        multi_region: bool | None,
        custom_key_store_id: str | None,
        xks_key_id: str | None,
        bypass_policy_lockout_safety_check: bool | None = None,
    ) -> Key:
        caller = request.caller
        if key_spec is not None and customer_master_key_spec is not None:
            raise ValidationException(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
                "CustomerMasterKeySpec is deprecated."
            )
        spec = key_spec or customer_master_key_spec or SYMMETRIC_DEFAULT
        if spec != SYMMETRIC_DEFAULT and key_usage is None:
            raise ValidationException(
                "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
            )
        usage = key_usage or ENCRYPT_DECRYPT
        if usage not in USAGES_BY_SPEC.get(spec, frozenset()):
            raise ValidationException(f"KeyUsage {usage} is not compatible with KeySpec {spec}")
        if spec == "SM2":
            raise UnsupportedOperationException("KeySpec SM2 is supported only in China Regions.")
        if spec in UNSUPPORTED_KEY_SPECS:
            raise UnsupportedOperationException(f"KeySpec {spec} is not supported by this Trent server.")
        origin = origin or "AWS_KMS"
        if custom_key_store_id is not None or origin in ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"):
            raise CustomKeyStoreNotFoundException(
                "Custom key stores are not supported by this Trent server."
                if custom_key_store_id is not None
                else f"Origin {origin} requires a CustomKeyStoreId."
            )
        if xks_key_id is not None:
            raise ValidationException("XksKeyId is only valid with Origin EXTERNAL_KEY_STORE.")
        external = origin == "EXTERNAL"
        create_facts: dict[str, str | Sequence[str] | None] = {
            "kms:keyspec": spec,
            "kms:customermasterkeyspec": spec,
            "kms:keyusage": usage,
            "kms:customermasterkeyusage": usage,
            "kms:keyorigin": origin,
            "kms:multiregion": "true" if multi_region else "false",
            "kms:bypasspolicylockoutsafetycheck": "true" if bypass_policy_lockout_safety_check else "false",
            **tag_facts(tags),
        }
        authorize(caller, "kms:CreateKey", None, facts=create_facts)
        if tags:
            authorize(caller, "kms:TagResource", None, facts=create_facts)
        tag_map = validated_new_tags({}, tags)
        key_id = new_key_id(multi_region=bool(multi_region))
        policy_text = None
        if policy is not None:
            policy_text = self._policies.checked(
                request.caller,
                policy,
                key_arn(caller.region, caller.account_id, key_id),
                bypass=bool(bypass_policy_lockout_safety_check),
            )

        now = self._clock.now()
        key = self._new_key(caller, key_id, description, spec, usage, origin, policy_text, tag_map, now)
        request.touch(key.arn)
        if multi_region:
            key.multi_region = True
            key.primary_region = caller.region
        if external:
            key.state = KeyState.PENDING_IMPORT
            self._store.insert_key(key)
            return key
        material = self._material_pool.take(spec) if self._material_pool else new_key_material(spec)
        material_id = ciphertext.material_id_for(key_id, material)
        key.current_material_id = material_id
        sealed = self._root.seal(material, material_aad(key_id, material_id))
        with self._store.transaction():
            self._store.insert_key(key)
            self._store.insert_material(Material(key_id, material_id, sealed, now))
        return key

    @staticmethod
    def _new_key(
        caller: Caller,
        key_id: str,
        description: str | None,
        spec: str,
        usage: str,
        origin: str,
        policy_text: str | None,
        tags: dict[str, str],
        now: datetime,
    ) -> Key:
        return Key(
            key_id=key_id,
            account_id=caller.account_id,
            region=caller.region,
            arn=key_arn(caller.region, caller.account_id, key_id),
            creation_date=now,
            description=description or "",
            key_spec=spec,
            key_usage=usage,
            origin=origin,
            key_manager="CUSTOMER",
            state=KeyState.ENABLED,
            policy=policy_text or default_key_policy(caller.account_id, caller.region),
            tags=tags,
        )

    def describe_key(self, request: RequestContext, key_ref: str) -> Key:
        key = self._keys.resolve(request, key_ref, allow_alias=True, use=True)
        self._keys.authorize(request, "kms:DescribeKey", key)
        return key

    def get_key_last_usage(self, request: RequestContext, key_ref: str) -> tuple[Key, KeyUsage | None]:
        """The key's newest successful tracked use, recorded with its audit record."""
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:GetKeyLastUsage", key)
        return key, self._store.key_last_usage(key.arn)

    def list_keys(self, request: RequestContext, after: str | None, limit: int) -> Page[Key]:
        caller = request.caller
        authorize(caller, "kms:ListKeys", None)
        return self._store.list_keys(caller.account_id, caller.region, after, limit)

    def update_key_description(self, request: RequestContext, key_ref: str, description: str) -> None:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:UpdateKeyDescription", key)
        check_state(key, StateRule.MANAGE)
        self._store.update_key(replace(key, description=description))

    def enable_key(self, request: RequestContext, key_ref: str) -> None:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:EnableKey", key)
        check_state(key, StateRule.ENABLE_DISABLE)
        if key.state is not KeyState.ENABLED:
            self._store.update_key(replace(key, state=KeyState.ENABLED))

    def disable_key(self, request: RequestContext, key_ref: str) -> None:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:DisableKey", key)
        check_state(key, StateRule.ENABLE_DISABLE)
        if key.state is not KeyState.DISABLED:
            self._store.update_key(replace(key, state=KeyState.DISABLED))

    def schedule_key_deletion(self, request: RequestContext, key_ref: str, pending_window_days: int | None) -> Key:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        window = DEFAULT_PENDING_WINDOW_DAYS if pending_window_days is None else pending_window_days
        if not MIN_PENDING_WINDOW_DAYS <= window <= MAX_PENDING_WINDOW_DAYS:
            bound = (
                f"greater than or equal to {MIN_PENDING_WINDOW_DAYS}"
                if window < MIN_PENDING_WINDOW_DAYS
                else f"less than or equal to {MAX_PENDING_WINDOW_DAYS}"
            )
            raise ValidationException.violation("pendingWindowInDays", f"Member must have value {bound}", str(window))
        self._keys.authorize(
            request, "kms:ScheduleKeyDeletion", key, facts={"kms:schedulekeydeletionpendingwindowindays": str(window)}
        )
        check_state(key, StateRule.SCHEDULE_DELETION)
        if key.multi_region and key.is_primary and len(self._store.keys_with_id(key.key_id)) > 1:
            # A primary with replicas waits for them; its window starts when the last one is gone.
            updated = replace(key, state=KeyState.PENDING_REPLICA_DELETION, pending_window_days=window)
        else:
            updated = replace(
                key,
                state=KeyState.PENDING_DELETION,
                deletion_date=self._clock.now() + timedelta(days=window),
                pending_window_days=window,
            )
        self._store.update_key(updated)
        return updated

    def cancel_key_deletion(self, request: RequestContext, key_ref: str) -> Key:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:CancelKeyDeletion", key)
        check_state(key, StateRule.CANCEL_DELETION)
        updated = replace(key, state=KeyState.DISABLED, deletion_date=None, pending_window_days=None)
        self._store.update_key(updated)
        return updated

    def delete_due_keys(self, batch: int = 100) -> list[Key]:
        """Background task: really delete keys whose waiting period is over."""
        deleted: list[Key] = []
        now = self._clock.now()
        for key in self._store.keys_due_for_deletion(now, batch):
            self._store.delete_key(key.region, key.key_id)
            deleted.append(key)
            remaining = self._store.keys_with_id(key.key_id) if key.multi_region else []
            if len(remaining) == 1 and remaining[0].state is KeyState.PENDING_REPLICA_DELETION:
                primary = remaining[0]
                window = primary.pending_window_days or DEFAULT_PENDING_WINDOW_DAYS
                self._store.update_key(
                    replace(primary, state=KeyState.PENDING_DELETION, deletion_date=now + timedelta(days=window))
                )
        return deleted

    def get_key_policy(self, request: RequestContext, key_ref: str, policy_name: str | None) -> tuple[str, str]:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:GetKeyPolicy", key)
        name = policy_name or DEFAULT_POLICY_NAME
        if name != DEFAULT_POLICY_NAME:
            raise NotFoundException("No such policy exists")
        return key.policy, name

    def list_key_policies(self, request: RequestContext, key_ref: str) -> list[str]:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:ListKeyPolicies", key)
        return [DEFAULT_POLICY_NAME]

    def put_key_policy(
        self,
        request: RequestContext,
        key_ref: str,
        policy: str,
        policy_name: str | None,
        bypass_policy_lockout_safety_check: bool | None = None,
    ) -> None:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        bypass = bool(bypass_policy_lockout_safety_check)
        self._keys.authorize(
            request,
            "kms:PutKeyPolicy",
            key,
            facts={"kms:bypasspolicylockoutsafetycheck": "true" if bypass else "false"},
        )
        if (policy_name or DEFAULT_POLICY_NAME) != DEFAULT_POLICY_NAME:
            raise NotFoundException("No such policy exists")
        self._store.update_key(
            replace(key, policy=self._policies.checked(request.caller, policy, key.arn, bypass=bypass))
        )

    def key_counts(self) -> list[tuple[str, str, int]]:
        """Keys by state and spec in the whole store: an operator's figure (metrics), not an API."""
        return self._store.count_keys()
