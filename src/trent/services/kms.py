"""The KMS use cases: one method per AWS operation, in AWS's order of checks.

Order of checks (spec/kms-api.md 5.2): request validation (done by the api codec) -> key
resolution (NotFound) -> authorization (AccessDenied) -> key state (Disabled / InvalidState) ->
key usage, spec and algorithm -> operation-specific checks -> DryRun -> the work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from trent.crypto.random import random_bytes
from trent.domain import ciphertext
from trent.domain.aliases import AWS_MANAGED_SERVICES, PREDEFINED_AWS_ALIASES, PredefinedAlias
from trent.domain.audit import KeyUsage
from trent.domain.errors import (
    AccessDeniedException,
    AlreadyExistsException,
    CustomKeyStoreNotFoundException,
    DryRunOperationException,
    IncorrectKeyException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    LimitExceededException,
    MalformedPolicyDocumentException,
    NotAuthorizedException,
    NotFoundException,
    TagException,
    TrentError,
    UnsupportedOperationException,
    ValidationException,
)
from trent.domain.identity import Caller
from trent.domain.ids import (
    ALIAS_PREFIX,
    AWS_ALIAS_PREFIX,
    alias_arn,
    key_arn,
    new_key_id,
    parse_key_reference,
)
from trent.domain.keys import (
    DEFAULT_ROTATION_PERIOD_DAYS,
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
from trent.domain.policy import DEFAULT_POLICY_NAME, CompiledPolicy, aws_managed_key_policy, default_key_policy
from trent.services.authorize import FactValue, LazyFacts, authorize, authorize_identity_action, principal_of
from trent.services.grants import GrantOperations
from trent.services.keycache import KeyCache, material_aad
from trent.services.kms_asymmetric import AsymmetricOperations, new_key_material, uses_rsa_encryption
from trent.services.kms_import import ImportOperations
from trent.services.kms_kem import KemOperations
from trent.services.kms_multi_region import MultiRegionOperations
from trent.services.kms_rotation import RotationOperations
from trent.services.material_pool import MaterialPool
from trent.services.ports import Alias, Clock, Page, RootOfTrust, Store

MAX_TAGS = 50
MAX_ALIASES_PER_KEY = 50
MIN_PENDING_WINDOW_DAYS = 7
MAX_PENDING_WINDOW_DAYS = 30
DEFAULT_PENDING_WINDOW_DAYS = 30
KEY_POLICY_MAX_BYTES = 32_768
DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}


@dataclass(frozen=True, slots=True)
class EncryptResult:
    ciphertext_blob: bytes
    key_arn: str
    encryption_algorithm: str
    key_material_id: str | None  # None for asymmetric keys: AWS names no material for them


@dataclass(frozen=True, slots=True)
class DecryptResult:
    plaintext: bytes
    key_arn: str
    encryption_algorithm: str
    key_material_id: str | None


@dataclass(frozen=True, slots=True)
class DataKeyResult:
    plaintext: bytes
    ciphertext_blob: bytes
    key_arn: str
    key_material_id: str


@dataclass(frozen=True, slots=True)
class ReEncryptResult:
    ciphertext_blob: bytes
    source_key_arn: str
    key_arn: str
    source_encryption_algorithm: str
    destination_encryption_algorithm: str
    source_key_material_id: str | None
    destination_key_material_id: str | None


class KmsService(
    GrantOperations, AsymmetricOperations, KemOperations, RotationOperations, ImportOperations, MultiRegionOperations
):
    def __init__(
        self,
        store: Store,
        root: RootOfTrust,
        clock: Clock,
        principal_exists: Callable[[str], bool] | None = None,
        material_pool: MaterialPool | None = None,
    ) -> None:
        self._store = store
        self._material_pool = material_pool
        self._root = root
        self._clock = clock
        self._cache = KeyCache(store, root)
        # Key policies may name only principals that exist (AWS checks); IAM wiring supplies this.
        self._principal_exists = principal_exists or (lambda _arn: True)

    # ================================================================= resolution

    def begin_request(self, change_token: int | None = None) -> None:
        """Called once per request: drop cached state if anything was committed since."""
        self._cache.sync(change_token)

    def change_token(self) -> int:
        """The store's change token; read once per request and shared by the caches."""
        return self._store.change_token()

    def audit_key_arn(self, caller: Caller, reference: str) -> str | None:
        """The key ARN a reference names in the caller's region, for audit records only (no authorization)."""
        try:
            return self.resolve(caller, reference, allow_alias=True).arn
        except TrentError:
            return None

    def resolve(self, caller: Caller, reference: str, *, allow_alias: bool, use: bool = False) -> Key:
        """The key a reference names in the caller's region (NotFoundException as AWS words it).

        ``use``: the request uses or describes the key, so the first use of a predefined
        alias/aws/<service> creates its AWS managed key; lookups for other purposes (audit
        records, management calls) never create one.
        """
        ref = parse_key_reference(reference, caller.region, allow_alias=allow_alias)
        account_id = ref.account_id or caller.account_id
        if ref.is_alias:
            key_id = self._cache.alias_target(account_id, caller.region, ref.value)
            if key_id is None and use and account_id == caller.account_id:
                key_id = self._create_aws_managed_key(caller, ref.value)
            if key_id is None:
                raise NotFoundException.alias(alias_arn(caller.region, account_id, ref.value))
        else:
            key_id = ref.value
        key = self._cache.key(caller.region, key_id)
        if key is None or key.account_id != account_id:
            raise NotFoundException.key(key_arn(caller.region, account_id, key_id))
        return key

    def _create_aws_managed_key(self, caller: Caller, alias_name: str) -> str | None:
        """First use of alias/aws/<service>: the AWS managed key and its alias, as AWS creates them.

        Returns the key id the alias names (another request may have created it first), or None
        when the name is not a predefined AWS alias.
        """
        service = alias_name.removeprefix(AWS_ALIAS_PREFIX)
        if not alias_name.startswith(AWS_ALIAS_PREFIX) or service not in AWS_MANAGED_SERVICES:
            return None
        now = self._clock.now()
        key_id = new_key_id()
        key = self._new_key(caller, key_id, None, SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT, "AWS_KMS", None, {}, now)
        key.key_manager = "AWS"
        key.description = f"Default key that protects my {service} resources when no other key is defined"
        key.policy = aws_managed_key_policy(caller.account_id, caller.region, service)
        # AWS managed keys rotate every year, always.
        key.rotation_period_days = DEFAULT_ROTATION_PERIOD_DAYS
        key.next_rotation_date = now + timedelta(days=DEFAULT_ROTATION_PERIOD_DAYS)
        material = new_key_material(SYMMETRIC_DEFAULT)
        key.current_material_id = ciphertext.material_id_for(key_id, material)
        sealed = self._root.seal(material, material_aad(key_id, key.current_material_id))
        alias = Alias(caller.account_id, caller.region, alias_name, key_id, now, now)
        with self._store.transaction():
            # Under the write lock: another request (or process) may have created it meanwhile.
            if self._store.get_alias(caller.account_id, caller.region, alias_name) is None:
                self._store.insert_key(key)
                self._store.insert_material(Material(key_id, key.current_material_id, sealed, now))
                self._store.insert_alias(alias)
        self._cache.clear()
        existing = self._store.get_alias(caller.account_id, caller.region, alias_name)
        return None if existing is None else existing.target_key_id

    def authorize_key(
        self,
        caller: Caller,
        action: str,
        key: Key,
        *,
        context: Mapping[str, str] | None = None,
        facts: dict[str, str | Sequence[str] | None] | None = None,
    ) -> None:
        def build_facts() -> dict[str, FactValue]:
            all_facts = facts or {}
            all_facts["kms:resourcealiases"] = list(self._cache.alias_names(key.account_id, key.region, key.key_id))
            return all_facts

        authorize(
            caller,
            action,
            key,
            grants=self._cache.grants(key.region, key.key_id),
            context=context,
            facts=LazyFacts(build_facts),
        )

    def _resolve_for_use(self, caller: Caller, reference: str) -> tuple[Key, str | None]:
        """Like _resolve, also returning the alias name the caller used (kms:RequestAlias)."""
        return self.resolve(caller, reference, allow_alias=True, use=True), _alias_in(reference)

    def _current_material(self, key: Key) -> tuple[str, bytes]:
        material_id = key.current_material_id
        material = None if material_id is None else self._cache.material(key.key_id, material_id)
        if material_id is None or material is None:
            # Enabled keys always have material; reaching here means storage lost a row.
            raise InvalidCiphertextException
        return material_id, material

    # ================================================================= key lifecycle

    def create_key(
        self,
        caller: Caller,
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
            **_tag_facts(tags),
        }
        authorize(caller, "kms:CreateKey", None, facts=create_facts)
        if tags:
            authorize(caller, "kms:TagResource", None, facts=create_facts)
        tag_map = _validated_new_tags({}, tags)
        key_id = new_key_id(multi_region=bool(multi_region))
        policy_text = None
        if policy is not None:
            policy_text = self._checked_policy(
                caller,
                policy,
                key_arn(caller.region, caller.account_id, key_id),
                bypass=bool(bypass_policy_lockout_safety_check),
            )

        now = self._clock.now()
        key = self._new_key(caller, key_id, description, spec, usage, origin, policy_text, tag_map, now)
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

    def replicate(
        self,
        caller: Caller,
        key_ref: str,
        replica_region: str,
        policy: str | None,
        bypass_policy_lockout_safety_check: bool | None,
        description: str | None,
        tags: Sequence[tuple[str, str]],
    ) -> Key:
        """ReplicateKey, with the tag rules CreateKey applies."""
        return self.replicate_key(
            caller,
            key_ref,
            replica_region,
            policy,
            bool(bypass_policy_lockout_safety_check),
            description,
            _validated_new_tags({}, tags),
            _tag_facts(tags),
        )

    def describe_key(self, caller: Caller, key_ref: str) -> Key:
        key = self.resolve(caller, key_ref, allow_alias=True, use=True)
        self.authorize_key(caller, "kms:DescribeKey", key)
        return key

    def get_key_last_usage(self, caller: Caller, key_ref: str) -> tuple[Key, KeyUsage | None]:
        """The key's newest successful tracked use, recorded with its audit record."""
        key = self.resolve(caller, key_ref, allow_alias=False)
        self.authorize_key(caller, "kms:GetKeyLastUsage", key)
        return key, self._store.key_last_usage(key.arn)

    def list_keys(self, caller: Caller, after: str | None, limit: int) -> Page[Key]:
        authorize(caller, "kms:ListKeys", None)
        return self._store.list_keys(caller.account_id, caller.region, after, limit)

    def update_key_description(self, caller: Caller, key_ref: str, description: str) -> None:
        key = self.resolve(caller, key_ref, allow_alias=False)
        self.authorize_key(caller, "kms:UpdateKeyDescription", key)
        check_state(key, StateRule.MANAGE)
        self._store.update_key(replace(key, description=description))

    def enable_key(self, caller: Caller, key_ref: str) -> None:
        key = self.resolve(caller, key_ref, allow_alias=False)
        self.authorize_key(caller, "kms:EnableKey", key)
        check_state(key, StateRule.ENABLE_DISABLE)
        if key.state is not KeyState.ENABLED:
            self._store.update_key(replace(key, state=KeyState.ENABLED))

    def disable_key(self, caller: Caller, key_ref: str) -> None:
        key = self.resolve(caller, key_ref, allow_alias=False)
        self.authorize_key(caller, "kms:DisableKey", key)
        check_state(key, StateRule.ENABLE_DISABLE)
        if key.state is not KeyState.DISABLED:
            self._store.update_key(replace(key, state=KeyState.DISABLED))

    def schedule_key_deletion(self, caller: Caller, key_ref: str, pending_window_days: int | None) -> Key:
        key = self.resolve(caller, key_ref, allow_alias=False)
        window = DEFAULT_PENDING_WINDOW_DAYS if pending_window_days is None else pending_window_days
        if not MIN_PENDING_WINDOW_DAYS <= window <= MAX_PENDING_WINDOW_DAYS:
            bound = (
                f"greater than or equal to {MIN_PENDING_WINDOW_DAYS}"
                if window < MIN_PENDING_WINDOW_DAYS
                else f"less than or equal to {MAX_PENDING_WINDOW_DAYS}"
            )
            raise ValidationException(
                f"1 validation error detected: Value '{window}' at 'pendingWindowInDays' failed to satisfy "
                f"constraint: Member must have value {bound}"
            )
        self.authorize_key(
            caller, "kms:ScheduleKeyDeletion", key, facts={"kms:schedulekeydeletionpendingwindowindays": str(window)}
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

    def cancel_key_deletion(self, caller: Caller, key_ref: str) -> Key:
        key = self.resolve(caller, key_ref, allow_alias=False)
        self.authorize_key(caller, "kms:CancelKeyDeletion", key)
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

    # ================================================================= policies

    def get_key_policy(self, caller: Caller, key_ref: str, policy_name: str | None) -> tuple[str, str]:
        key = self.resolve(caller, key_ref, allow_alias=False)
        self.authorize_key(caller, "kms:GetKeyPolicy", key)
        name = policy_name or DEFAULT_POLICY_NAME
        if name != DEFAULT_POLICY_NAME:
            raise NotFoundException("No such policy exists")
        return key.policy, name

    def list_key_policies(self, caller: Caller, key_ref: str) -> list[str]:
        key = self.resolve(caller, key_ref, allow_alias=False)
        self.authorize_key(caller, "kms:ListKeyPolicies", key)
        return [DEFAULT_POLICY_NAME]

    def put_key_policy(
        self,
        caller: Caller,
        key_ref: str,
        policy: str,
        policy_name: str | None,
        bypass_policy_lockout_safety_check: bool | None = None,
    ) -> None:
        key = self.resolve(caller, key_ref, allow_alias=False)
        bypass = bool(bypass_policy_lockout_safety_check)
        self.authorize_key(
            caller, "kms:PutKeyPolicy", key, facts={"kms:bypasspolicylockoutsafetycheck": "true" if bypass else "false"}
        )
        if (policy_name or DEFAULT_POLICY_NAME) != DEFAULT_POLICY_NAME:
            raise NotFoundException("No such policy exists")
        self._store.update_key(replace(key, policy=self._checked_policy(caller, policy, key.arn, bypass=bypass)))

    def _checked_policy(self, caller: Caller, policy: str, resource: str, *, bypass: bool) -> str:
        """Validate a key policy and run AWS's lockout safety check unless bypassed."""
        compiled = CompiledPolicy.parse(policy, kind="key", principal_exists=self._principal_exists)
        if bypass:
            return policy

        def identity_allows() -> bool:
            try:
                authorize_identity_action(caller, "kms:PutKeyPolicy", resource)
            except AccessDeniedException:
                return False
            return True

        if not compiled.allows_put_key_policy_for(principal_of(caller), identity_allows, resource=resource):
            raise MalformedPolicyDocumentException(
                "The new key policy will not allow you to update the key policy in the future."
            )
        return policy

    # ================================================================= aliases

    def create_alias(self, caller: Caller, alias_name: str, target_ref: str) -> None:
        _check_alias_name(alias_name)
        _check_alias_target(target_ref)
        key = self.resolve(caller, target_ref, allow_alias=False)
        authorize_identity_action(caller, "kms:CreateAlias", alias_arn(caller.region, caller.account_id, alias_name))
        self.authorize_key(caller, "kms:CreateAlias", key)
        check_state(key, StateRule.MANAGE)
        if self._store.count_aliases(caller.account_id, caller.region, key.key_id) >= MAX_ALIASES_PER_KEY:
            raise LimitExceededException(f"Too many aliases for key {key.arn}: the limit is {MAX_ALIASES_PER_KEY}.")
        now = self._clock.now()
        alias = Alias(caller.account_id, caller.region, alias_name, key.key_id, now, now)
        if not self._store.insert_alias(alias):
            raise AlreadyExistsException.alias(alias_arn(caller.region, caller.account_id, alias_name))

    def update_alias(self, caller: Caller, alias_name: str, target_ref: str) -> None:
        _check_alias_name(alias_name)
        alias = self._store.get_alias(caller.account_id, caller.region, alias_name)
        if alias is None:
            raise NotFoundException.alias(alias_arn(caller.region, caller.account_id, alias_name))
        _check_alias_target(target_ref)
        new_key = self.resolve(caller, target_ref, allow_alias=False)
        old_key = self._cache.key(caller.region, alias.target_key_id)
        authorize_identity_action(caller, "kms:UpdateAlias", alias_arn(caller.region, caller.account_id, alias_name))
        self.authorize_key(caller, "kms:UpdateAlias", new_key)
        if old_key is not None:
            self.authorize_key(caller, "kms:UpdateAlias", old_key)
        check_state(new_key, StateRule.MANAGE)
        if old_key is not None and (
            old_key.key_usage != new_key.key_usage or _key_family(old_key) != _key_family(new_key)
        ):
            raise ValidationException(
                f"Alias {alias_name} cannot be changed from a CMK with key usage {old_key.key_usage} to a "
                f"CMK with key usage {new_key.key_usage}. The key usage of the current CMK and the new CMK "
                "must be the same."
            )
        self._store.update_alias(replace(alias, target_key_id=new_key.key_id, last_updated_date=self._clock.now()))

    def delete_alias(self, caller: Caller, alias_name: str) -> None:
        if alias_name.startswith(AWS_ALIAS_PREFIX):
            raise NotAuthorizedException("")
        if not alias_name.startswith(ALIAS_PREFIX):
            raise ValidationException(_ALIAS_PREFIX_MESSAGE)
        alias = self._store.get_alias(caller.account_id, caller.region, alias_name)
        if alias is None:
            raise NotFoundException.alias(alias_arn(caller.region, caller.account_id, alias_name))
        key = self._cache.key(caller.region, alias.target_key_id)
        if key is not None:
            self.authorize_key(caller, "kms:DeleteAlias", key)
        authorize_identity_action(caller, "kms:DeleteAlias", alias_arn(caller.region, caller.account_id, alias_name))
        self._store.delete_alias(caller.account_id, caller.region, alias_name)

    def list_aliases(
        self, caller: Caller, key_ref: str | None, after: str | None, limit: int
    ) -> Page[Alias | PredefinedAlias]:
        authorize(caller, "kms:ListAliases", None)
        if key_ref is not None:
            key_id = self.resolve(caller, key_ref, allow_alias=False).key_id
            page = self._store.list_aliases(caller.account_id, caller.region, key_id, after, limit)
            return Page(list(page.items), page.next_position)
        return _with_predefined_aliases(
            caller, self._store.list_aliases(caller.account_id, caller.region, None, after, limit), after, limit
        )

    # ================================================================= tags

    def tag_resource(self, caller: Caller, key_ref: str, tags: Sequence[tuple[str, str]]) -> None:
        key = self.resolve(caller, key_ref, allow_alias=False)
        self.authorize_key(caller, "kms:TagResource", key, facts=_tag_facts(tags))
        check_state(key, StateRule.MANAGE)
        new_tags = _validated_new_tags(key.tags, tags)
        self._store.put_tags(key.region, key.key_id, {k: v for k, v in new_tags.items() if key.tags.get(k) != v})

    def untag_resource(self, caller: Caller, key_ref: str, tag_keys: Sequence[str]) -> None:
        key = self.resolve(caller, key_ref, allow_alias=False)
        self.authorize_key(caller, "kms:UntagResource", key, facts={"aws:tagkeys": list(tag_keys)})
        check_state(key, StateRule.MANAGE)
        if any(_reserved_tag(k) for k in tag_keys):
            raise TagException("Tags beginning with aws: are reserved")
        self._store.remove_tags(key.region, key.key_id, tag_keys)

    def list_resource_tags(self, caller: Caller, key_ref: str) -> dict[str, str]:
        key = self.resolve(caller, key_ref, allow_alias=False)
        self.authorize_key(caller, "kms:ListResourceTags", key)
        return dict(sorted(key.tags.items()))

    # ================================================================= cryptographic operations

    def _symmetric_key_for(
        self,
        caller: Caller,
        key_ref: str,
        action: str,
        operation: str,
        context: Mapping[str, str] | None,
        algorithm: str | None = None,
        facts: dict[str, str | Sequence[str] | None] | None = None,
    ) -> Key:
        key, alias = self._resolve_for_use(caller, key_ref)
        all_facts: dict[str, str | Sequence[str] | None] = {"kms:requestalias": alias, **(facts or {})}
        all_facts["kms:encryptionalgorithm"] = algorithm or SYMMETRIC_DEFAULT
        self.authorize_key(caller, action, key, context=context, facts=all_facts)
        check_state(key, StateRule.CRYPTO)
        if key.key_usage != ENCRYPT_DECRYPT:
            raise InvalidKeyUsageException.usage(key.arn, key.key_usage, operation)
        return key

    def encrypt(
        self,
        caller: Caller,
        key_ref: str,
        plaintext: bytes,
        context: Mapping[str, str] | None,
        algorithm: str | None,
        dry_run: bool,
    ) -> EncryptResult:
        key = self._symmetric_key_for(caller, key_ref, "kms:Encrypt", "Encrypt", context, algorithm)
        algorithm = self._encryption_algorithm(key, algorithm, context)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        if uses_rsa_encryption(key):
            blob, algorithm = self.rsa_encrypt(key, plaintext, algorithm, context)
            return EncryptResult(blob, key.arn, algorithm, None)
        material_id, material = self._current_material(key)
        blob = ciphertext.encrypt(key.key_id, material_id, material, plaintext, context)
        return EncryptResult(blob, key.arn, algorithm, material_id)

    def _open(
        self,
        caller: Caller,
        blob: bytes,
        context: Mapping[str, str] | None,
        key_ref: str | None,
        algorithm: str | None,
        action: str,
        operation: str,
    ) -> DecryptResult:
        named = None if key_ref is None else self.resolve(caller, key_ref, allow_alias=True, use=True)
        if named is not None and uses_rsa_encryption(named):
            return self._open_rsa(caller, named, blob, context, key_ref, algorithm, action, operation)
        parsed = ciphertext.parse(blob)
        if named is not None and named.key_id != parsed.key_id:
            raise IncorrectKeyException.mismatch()
        key = self._cache.key(caller.region, parsed.key_id)
        if key is None:
            # A key that exists elsewhere or was deleted gets AWS's answer; an id never issued
            # means the blob was tampered with.
            if self._store.key_id_known(parsed.key_id):
                raise AccessDeniedException.ciphertext_key_unusable()
            raise InvalidCiphertextException
        facts: dict[str, str | Sequence[str] | None] = {"kms:encryptionalgorithm": algorithm or SYMMETRIC_DEFAULT}
        if key_ref is not None:
            facts["kms:requestalias"] = _alias_in(key_ref)
        self.authorize_key(caller, action, key, context=context, facts=facts)
        check_state(key, StateRule.CRYPTO)
        if key.key_usage != ENCRYPT_DECRYPT:
            raise InvalidKeyUsageException.usage(key.arn, key.key_usage, operation)
        algorithm = _check_algorithm(key, algorithm)
        material = self._cache.material(key.key_id, parsed.material_id)
        if material is None:
            raise InvalidCiphertextException
        return DecryptResult(ciphertext.decrypt(parsed, material, context), key.arn, algorithm, parsed.material_id)

    def _open_rsa(
        self,
        caller: Caller,
        key: Key,
        blob: bytes,
        context: Mapping[str, str] | None,
        key_ref: str | None,
        algorithm: str | None,
        action: str,
        operation: str,
    ) -> DecryptResult:
        """An RSA key's ciphertext: the bare RSAES-OAEP output, opened with the named key."""
        facts: dict[str, str | Sequence[str] | None] = {
            "kms:encryptionalgorithm": algorithm or SYMMETRIC_DEFAULT,
            "kms:requestalias": _alias_in(key_ref) if key_ref is not None else None,
        }
        self.authorize_key(caller, action, key, context=context, facts=facts)
        check_state(key, StateRule.CRYPTO)
        if (algorithm or SYMMETRIC_DEFAULT) == SYMMETRIC_DEFAULT:
            # Read as a symmetric ciphertext, which it is not (AWS answers this way, unlike Encrypt).
            raise InvalidCiphertextException
        plaintext, chosen = self.rsa_decrypt(key, blob, algorithm, context)
        return DecryptResult(plaintext, key.arn, chosen, None)

    def _encryption_algorithm(self, key: Key, algorithm: str | None, context: Mapping[str, str] | None) -> str:
        if uses_rsa_encryption(key):
            return self.check_rsa_request(key, algorithm, context)
        return _check_algorithm(key, algorithm)

    def dry_run_ignoring_ciphertext(
        self,
        caller: Caller,
        key_ref: str,
        context: Mapping[str, str] | None,
        algorithm: str | None,
        action: str,
        operation: str,
    ) -> None:
        """DryRun with IGNORE_CIPHERTEXT: every check of the named key, none of the ciphertext."""
        key = self._symmetric_key_for(caller, key_ref, action, operation, context, algorithm)
        self._encryption_algorithm(key, algorithm, context)

    def decrypt(
        self,
        caller: Caller,
        blob: bytes,
        context: Mapping[str, str] | None,
        key_ref: str | None,
        algorithm: str | None,
        dry_run: bool,
    ) -> DecryptResult:
        result = self._open(caller, blob, context, key_ref, algorithm, "kms:Decrypt", "Decrypt")
        if dry_run:
            raise DryRunOperationException.would_succeed()
        return result

    def re_encrypt(
        self,
        caller: Caller,
        blob: bytes,
        source_context: Mapping[str, str] | None,
        source_key_ref: str | None,
        source_algorithm: str | None,
        destination_key_ref: str,
        destination_context: Mapping[str, str] | None,
        destination_algorithm: str | None,
        dry_run: bool,
    ) -> ReEncryptResult:
        opened = self._open(
            caller, blob, source_context, source_key_ref, source_algorithm, "kms:ReEncryptFrom", "ReEncrypt"
        )
        destination = self._symmetric_key_for(
            caller, destination_key_ref, "kms:ReEncryptTo", "ReEncrypt", destination_context, destination_algorithm
        )
        destination_algorithm = self._encryption_algorithm(destination, destination_algorithm, destination_context)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        material_id: str | None
        if uses_rsa_encryption(destination):
            new_blob, destination_algorithm = self.rsa_encrypt(
                destination, opened.plaintext, destination_algorithm, destination_context
            )
            material_id = None
        else:
            material_id, material = self._current_material(destination)
            new_blob = ciphertext.encrypt(
                destination.key_id, material_id, material, opened.plaintext, destination_context
            )
        return ReEncryptResult(
            ciphertext_blob=new_blob,
            source_key_arn=opened.key_arn,
            key_arn=destination.arn,
            source_encryption_algorithm=opened.encryption_algorithm,
            destination_encryption_algorithm=destination_algorithm,
            source_key_material_id=opened.key_material_id,
            destination_key_material_id=material_id,
        )

    def generate_data_key(
        self,
        caller: Caller,
        key_ref: str,
        key_spec: str | None,
        number_of_bytes: int | None,
        context: Mapping[str, str] | None,
        dry_run: bool,
        *,
        with_plaintext: bool,
    ) -> DataKeyResult:
        operation = "GenerateDataKey" if with_plaintext else "GenerateDataKeyWithoutPlaintext"
        key = self._symmetric_key_for(caller, key_ref, f"kms:{operation}", operation, context)
        if (key_spec is None) == (number_of_bytes is None):
            raise ValidationException("Please specify either number of bytes or key spec.")
        if not key.is_symmetric_encryption:
            raise InvalidKeyUsageException.usage(key.arn, key.key_usage, operation)
        if dry_run:
            raise DryRunOperationException.would_succeed()
        size = DATA_KEY_BYTES[key_spec] if key_spec is not None else int(number_of_bytes or 0)
        plaintext = random_bytes(size)
        material_id, material = self._current_material(key)
        blob = ciphertext.encrypt(key.key_id, material_id, material, plaintext, context)
        return DataKeyResult(plaintext, blob, key.arn, material_id)

    def generate_random(self, caller: Caller, number_of_bytes: int | None, custom_key_store_id: str | None) -> bytes:
        authorize(caller, "kms:GenerateRandom", None)
        if number_of_bytes is None:
            raise ValidationException("NumberOfBytes is required.")
        if custom_key_store_id is not None:
            raise CustomKeyStoreNotFoundException(
                f"Custom key store {custom_key_store_id} does not exist in this account and Region."
            )
        return random_bytes(number_of_bytes)


# ===================================================================== helpers


_ALIAS_PREFIX_MESSAGE = (
    'Alias must start with the prefix "alias/". '
    "Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)


def _check_alias_name(alias_name: str) -> None:
    if not alias_name.startswith(ALIAS_PREFIX):
        raise ValidationException(_ALIAS_PREFIX_MESSAGE)
    if alias_name.startswith(AWS_ALIAS_PREFIX):
        raise NotAuthorizedException("")
    if ":" in alias_name or alias_name == ALIAS_PREFIX:
        raise ValidationException(f"{alias_name} contains invalid characters for an alias")


def _with_predefined_aliases(
    caller: Caller, stored: Page[Alias], after: str | None, limit: int
) -> Page[Alias | PredefinedAlias]:
    """Merge AWS's predefined alias names into one page of stored aliases, in name order.

    A predefined name belongs in this page when it sorts after the marker and, if more stored
    aliases follow, no later than this page's last one; a name already stored is listed as stored.
    """
    names = {a.alias_name for a in stored.items}
    last = stored.items[-1].alias_name if stored.next_position is not None and stored.items else None
    extra = [
        PredefinedAlias(caller.account_id, caller.region, name)
        for name in PREDEFINED_AWS_ALIASES
        if name > (after or "") and (last is None or name <= last) and name not in names
    ]
    merged: list[Alias | PredefinedAlias] = sorted([*stored.items, *extra], key=lambda a: a.alias_name)
    if len(merged) > limit:
        return Page(merged[:limit], merged[limit - 1].alias_name)
    return Page(merged, stored.next_position)


def _check_alias_target(target_ref: str) -> None:
    # An alias names a key, never another alias (AWS checks this before resolving the target).
    if target_ref.startswith(ALIAS_PREFIX) or (target_ref.startswith("arn:") and ":alias/" in target_ref):
        raise ValidationException("Aliases must refer to keys. Not aliases")


def _key_family(key: Key) -> str:
    if key.key_spec == SYMMETRIC_DEFAULT:
        return "symmetric"
    if key.key_spec.startswith("HMAC_"):
        return "hmac"
    return "asymmetric"


def _check_algorithm(key: Key, algorithm: str | None) -> str:
    chosen = algorithm or SYMMETRIC_DEFAULT
    if key.key_spec == SYMMETRIC_DEFAULT and chosen != SYMMETRIC_DEFAULT:
        raise InvalidKeyUsageException.incompatible(chosen, key.key_spec)
    return chosen


def _reserved_tag(tag_key: str) -> bool:
    return tag_key.lower().startswith("aws:")


def _validated_new_tags(existing: Mapping[str, str], tags: Sequence[tuple[str, str]]) -> dict[str, str]:
    """AWS's TagException rules; returns the tag set after applying ``tags``."""
    keys = [k for k, _ in tags]
    if any(_reserved_tag(k) for k in keys):
        raise TagException("Tags beginning with aws: are reserved")
    if len(set(keys)) != len(keys):
        raise TagException("Duplicate tag keys")
    merged = dict(existing)
    merged.update(tags)
    if len(merged) > MAX_TAGS:
        raise TagException("Too many tags")
    return merged


def _alias_in(reference: str) -> str | None:
    if reference.startswith(ALIAS_PREFIX):
        return reference
    if reference.startswith("arn:") and ":alias/" in reference:
        return ALIAS_PREFIX + reference.split(":alias/", 1)[1]
    return None


def _tag_facts(tags: Sequence[tuple[str, str]]) -> dict[str, str | Sequence[str] | None]:
    """aws:RequestTag/<k> and aws:TagKeys for requests that set tags."""
    facts: dict[str, str | Sequence[str] | None] = {f"aws:requesttag/{k.lower()}": v for k, v in tags}
    facts["aws:tagkeys"] = [k for k, _ in tags]
    return facts
