"""Key access: the one way every use case reaches a key.

resolve (key id, key ARN, alias name, alias ARN) -> authorize (key policy, IAM policies, grants)
-> key state -> key usage, in AWS's order (spec/kms-api.md 5.2). Each key resolved is noted on
the request, so its audit record lists it without asking anyone again. The first use of a
predefined ``alias/aws/<service>`` creates that AWS managed key here, as AWS does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from trent.domain import ciphertext
from trent.domain.aliases import AWS_MANAGED_SERVICES, Alias
from trent.domain.errors import InvalidCiphertextException, InvalidKeyUsageException, NotFoundException
from trent.domain.identity import Caller
from trent.domain.ids import AWS_ALIAS_PREFIX, alias_arn, key_arn, new_key_id, parse_key_reference
from trent.domain.keys import (
    DEFAULT_ROTATION_PERIOD_DAYS,
    ENCRYPT_DECRYPT,
    SYMMETRIC_DEFAULT,
    Key,
    KeyState,
    Material,
    StateRule,
    check_state,
)
from trent.domain.policy import aws_managed_key_policy
from trent.services.authorize import FactValue, LazyFacts, authorize
from trent.services.keycache import KeyCache, material_aad
from trent.services.material import new_key_material
from trent.services.ports import Clock, RootOfTrust, Store
from trent.services.request import RequestContext, ServiceEvent

Facts = dict[str, str | Sequence[str] | None]


def alias_in(reference: str) -> str | None:
    """The alias name a key reference uses, if it is an alias (kms:RequestAlias)."""
    if reference.startswith("alias/"):
        return reference
    if reference.startswith("arn:") and ":alias/" in reference:
        return "alias/" + reference.split(":alias/", 1)[1]
    return None


class KeyAccess:
    def __init__(self, store: Store, root: RootOfTrust, clock: Clock) -> None:
        self._store = store
        self._root = root
        self._clock = clock
        self.cache = KeyCache(store, root)

    # ----------------------------------------------------------------- per request

    def begin_request(self, change_token: int | None = None) -> None:
        """Called once per request: drop cached state if anything was committed since."""
        self.cache.sync(change_token)

    def change_token(self) -> int:
        """The store's change token; read once per request and shared by the caches."""
        return self._store.change_token()

    # ----------------------------------------------------------------- the steps

    def resolve(self, request: RequestContext, reference: str, *, allow_alias: bool, use: bool = False) -> Key:
        """The key a reference names in the caller's region (NotFoundException as AWS words it).

        ``use``: the request uses or describes the key, so the first use of a predefined
        alias/aws/<service> creates its AWS managed key; management calls never create one.
        """
        caller = request.caller
        ref = parse_key_reference(reference, caller.region, allow_alias=allow_alias)
        account_id = ref.account_id or caller.account_id
        if ref.is_alias:
            key_id = self.cache.alias_target(account_id, caller.region, ref.value)
            if key_id is None and use and account_id == caller.account_id:
                key_id = self._create_aws_managed_key(request, ref.value)
            if key_id is None:
                raise NotFoundException.alias(alias_arn(caller.region, account_id, ref.value))
        else:
            key_id = ref.value
        key = self.cache.key(caller.region, key_id)
        if key is None or key.account_id != account_id:
            raise NotFoundException.key(key_arn(caller.region, account_id, key_id))
        request.touch(key.arn)
        return key

    def authorize(
        self,
        request: RequestContext,
        action: str,
        key: Key,
        *,
        context: Mapping[str, str] | None = None,
        facts: Facts | None = None,
    ) -> None:
        self.authorize_as(request.caller, action, key, context=context, facts=facts)

    def authorize_as(
        self,
        caller: Caller,
        action: str,
        key: Key,
        *,
        context: Mapping[str, str] | None = None,
        facts: Facts | None = None,
    ) -> None:
        """Authorization of ``caller`` as given (ReplicateKey and UpdatePrimaryRegion ask in another Region)."""

        def build_facts() -> dict[str, FactValue]:
            all_facts = facts or {}
            all_facts["kms:resourcealiases"] = list(self.cache.alias_names(key.account_id, key.region, key.key_id))
            return all_facts

        authorize(
            caller,
            action,
            key,
            grants=self.cache.grants(key.region, key.key_id),
            context=context,
            facts=LazyFacts(build_facts),
        )

    def for_use(
        self,
        request: RequestContext,
        reference: str,
        operation: str,
        usage: str,
        *,
        action: str | None = None,
        context: Mapping[str, str] | None = None,
        facts: Facts | None = None,
    ) -> Key:
        """A cryptographic operation's key: resolved (aliases too), authorized, usable, of the usage."""
        key = self.resolve(request, reference, allow_alias=True, use=True)
        all_facts: Facts = {"kms:requestalias": alias_in(reference), **(facts or {})}
        self.authorize(request, action or f"kms:{operation}", key, context=context, facts=all_facts)
        self.check_use(key, operation, usage)
        return key

    @staticmethod
    def check_use(key: Key, operation: str, usage: str) -> None:
        """State, then usage: a disabled key says so before anything about what it is for."""
        check_state(key, StateRule.CRYPTO)
        if key.key_usage != usage:
            raise InvalidKeyUsageException.usage(key.arn, key.key_usage, operation)

    def for_management(
        self,
        request: RequestContext,
        reference: str,
        action: str,
        *,
        state: StateRule | None = StateRule.MANAGE,
        facts: Facts | None = None,
    ) -> Key:
        """A management operation's key: key id or key ARN only, authorized, in a state it allows."""
        key = self.resolve(request, reference, allow_alias=False)
        self.authorize(request, action, key, facts=facts)
        if state is not None:
            check_state(key, state)
        return key

    # ----------------------------------------------------------------- material

    def current_material(self, key: Key) -> tuple[str, bytes]:
        material_id = key.current_material_id
        material = None if material_id is None else self.cache.material(key.key_id, material_id)
        if material_id is None or material is None:
            # Enabled keys always have material; reaching here means storage lost a row.
            raise InvalidCiphertextException
        return material_id, material

    def private_key(self, key: Key) -> bytes:
        return self.current_material(key)[1]

    # ----------------------------------------------------------------- AWS managed keys

    def _create_aws_managed_key(self, request: RequestContext, alias_name: str) -> str | None:
        """First use of alias/aws/<service>: the AWS managed key and its alias, as AWS creates them.

        Returns the key id the alias names (another request may have created it first), or None
        when the name is not a predefined AWS alias. The creation is recorded as CreateKey.
        """
        service = alias_name.removeprefix(AWS_ALIAS_PREFIX)
        if not alias_name.startswith(AWS_ALIAS_PREFIX) or service not in AWS_MANAGED_SERVICES:
            return None
        caller = request.caller
        now = self._clock.now()
        key_id = new_key_id()
        arn = key_arn(caller.region, caller.account_id, key_id)
        material = new_key_material(SYMMETRIC_DEFAULT)
        material_id = ciphertext.material_id_for(key_id, material)
        key = Key(
            key_id=key_id,
            account_id=caller.account_id,
            region=caller.region,
            arn=arn,
            creation_date=now,
            description=f"Default key that protects my {service} resources when no other key is defined",
            key_spec=SYMMETRIC_DEFAULT,
            key_usage=ENCRYPT_DECRYPT,
            origin="AWS_KMS",
            key_manager="AWS",
            state=KeyState.ENABLED,
            policy=aws_managed_key_policy(caller.account_id, caller.region, service),
            current_material_id=material_id,
            # AWS managed keys rotate every year, always.
            rotation_period_days=DEFAULT_ROTATION_PERIOD_DAYS,
            next_rotation_date=now + timedelta(days=DEFAULT_ROTATION_PERIOD_DAYS),
        )
        sealed = self._root.seal(material, material_aad(key_id, material_id))
        alias = Alias(caller.account_id, caller.region, alias_name, key_id, now, now)
        created = False
        with self._store.transaction():
            # Under the write lock: another request (or process) may have created it meanwhile.
            if self._store.get_alias(caller.account_id, caller.region, alias_name) is None:
                self._store.insert_key(key)
                self._store.insert_material(Material(key_id, material_id, sealed, now))
                self._store.insert_alias(alias)
                created = True
        self.cache.clear()
        if created:
            request.service_events.append(
                ServiceEvent("CreateKey", caller.region, arn, {"keyId": arn, "aliasName": alias_name})
            )
        existing = self._store.get_alias(caller.account_id, caller.region, alias_name)
        return None if existing is None else existing.target_key_id
