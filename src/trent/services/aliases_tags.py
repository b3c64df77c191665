"""Aliases (CreateAlias, UpdateAlias, DeleteAlias, ListAliases) and tags (TagResource,
UntagResource, ListResourceTags), with AWS's naming and tagging rules.

An alias operation's record lists the alias and its key and names the key in responseElements,
as CloudTrail does; the use case says so on the request, since only it knows the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from trent.domain.aliases import PREDEFINED_AWS_ALIASES, Alias, PredefinedAlias
from trent.domain.errors import (
    AlreadyExistsException,
    LimitExceededException,
    NotAuthorizedException,
    NotFoundException,
    TagException,
    ValidationException,
)
from trent.domain.identity import Caller
from trent.domain.ids import ALIAS_PREFIX, AWS_ALIAS_PREFIX, alias_arn
from trent.domain.keys import SYMMETRIC_DEFAULT, Key, StateRule, check_state
from trent.domain.paging import Page
from trent.services.authorize import authorize, authorize_identity_action
from trent.services.key_access import KeyAccess
from trent.services.ports import Clock, Store
from trent.services.request import RequestContext

MAX_TAGS = 50
MAX_ALIASES_PER_KEY = 50


class AliasesAndTags:
    def __init__(self, keys: KeyAccess, store: Store, clock: Clock) -> None:
        self._keys = keys
        self._store = store
        self._clock = clock

    def create_alias(self, request: RequestContext, alias_name: str, target_ref: str) -> None:
        try:
            self._create_alias(request, alias_name, target_ref)
        finally:
            _note_alias(request, alias_name)

    def _create_alias(self, request: RequestContext, alias_name: str, target_ref: str) -> None:
        caller = request.caller
        _check_alias_name(alias_name)
        _check_alias_target(target_ref)
        key = self._keys.resolve(request, target_ref, allow_alias=False)
        authorize_identity_action(caller, "kms:CreateAlias", alias_arn(caller.region, caller.account_id, alias_name))
        self._keys.authorize(request, "kms:CreateAlias", key)
        check_state(key, StateRule.MANAGE)
        if self._store.count_aliases(caller.account_id, caller.region, key.key_id) >= MAX_ALIASES_PER_KEY:
            raise LimitExceededException(f"Too many aliases for key {key.arn}: the limit is {MAX_ALIASES_PER_KEY}.")
        now = self._clock.now()
        alias = Alias(caller.account_id, caller.region, alias_name, key.key_id, now, now)
        if not self._store.insert_alias(alias):
            raise AlreadyExistsException.alias(alias_arn(caller.region, caller.account_id, alias_name))
        request.response_elements = {"keyId": key.arn}

    def update_alias(self, request: RequestContext, alias_name: str, target_ref: str) -> None:
        try:
            self._update_alias(request, alias_name, target_ref)
        finally:
            _note_alias(request, alias_name)

    def _update_alias(self, request: RequestContext, alias_name: str, target_ref: str) -> None:
        caller = request.caller
        _check_alias_name(alias_name)
        alias = self._store.get_alias(caller.account_id, caller.region, alias_name)
        if alias is None:
            raise NotFoundException.alias(alias_arn(caller.region, caller.account_id, alias_name))
        _check_alias_target(target_ref)
        new_key = self._keys.resolve(request, target_ref, allow_alias=False)
        old_key = self._keys.cache.key(caller.region, alias.target_key_id)
        authorize_identity_action(caller, "kms:UpdateAlias", alias_arn(caller.region, caller.account_id, alias_name))
        self._keys.authorize(request, "kms:UpdateAlias", new_key)
        if old_key is not None:
            self._keys.authorize(request, "kms:UpdateAlias", old_key)
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
        request.response_elements = {"keyId": new_key.arn}

    def delete_alias(self, request: RequestContext, alias_name: str) -> None:
        caller = request.caller
        _note_alias(request, alias_name)
        # The key the alias names while it still does: the record lists it after the alias.
        target = self._keys.cache.alias_target(caller.account_id, caller.region, alias_name)
        named = None if target is None else self._keys.cache.key(caller.region, target)
        if named is not None:
            request.touch(named.arn)
        if alias_name.startswith(AWS_ALIAS_PREFIX):
            raise NotAuthorizedException("")
        if not alias_name.startswith(ALIAS_PREFIX):
            raise ValidationException(_ALIAS_PREFIX_MESSAGE)
        alias = self._store.get_alias(caller.account_id, caller.region, alias_name)
        if alias is None:
            raise NotFoundException.alias(alias_arn(caller.region, caller.account_id, alias_name))
        key = self._keys.cache.key(caller.region, alias.target_key_id)
        if key is not None:
            self._keys.authorize(request, "kms:DeleteAlias", key)
        authorize_identity_action(caller, "kms:DeleteAlias", alias_arn(caller.region, caller.account_id, alias_name))
        self._store.delete_alias(caller.account_id, caller.region, alias_name)
        if key is not None:
            request.response_elements = {"keyId": key.arn}

    def list_aliases(
        self, request: RequestContext, key_ref: str | None, after: str | None, limit: int
    ) -> Page[Alias | PredefinedAlias]:
        caller = request.caller
        authorize(caller, "kms:ListAliases", None)
        if key_ref is not None:
            key_id = self._keys.resolve(request, key_ref, allow_alias=False).key_id
            page = self._store.list_aliases(caller.account_id, caller.region, key_id, after, limit)
            return Page(list(page.items), page.next_position)
        return _with_predefined_aliases(
            caller, self._store.list_aliases(caller.account_id, caller.region, None, after, limit), after, limit
        )

    def tag_resource(self, request: RequestContext, key_ref: str, tags: Sequence[tuple[str, str]]) -> None:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:TagResource", key, facts=tag_facts(tags))
        check_state(key, StateRule.MANAGE)
        new_tags = validated_new_tags(key.tags, tags)
        self._store.put_tags(key.region, key.key_id, {k: v for k, v in new_tags.items() if key.tags.get(k) != v})

    def untag_resource(self, request: RequestContext, key_ref: str, tag_keys: Sequence[str]) -> None:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:UntagResource", key, facts={"aws:tagkeys": list(tag_keys)})
        check_state(key, StateRule.MANAGE)
        if any(_reserved_tag(k) for k in tag_keys):
            raise TagException("Tags beginning with aws: are reserved")
        self._store.remove_tags(key.region, key.key_id, tag_keys)

    def list_resource_tags(self, request: RequestContext, key_ref: str) -> dict[str, str]:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:ListResourceTags", key)
        return dict(sorted(key.tags.items()))


def _note_alias(request: RequestContext, alias_name: str) -> None:
    """An alias operation's record names the alias (when the name is one) beside its key."""
    if alias_name.startswith(ALIAS_PREFIX) and ":" not in alias_name:
        request.touch(alias_arn(request.caller.region, request.caller.account_id, alias_name))


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


def _reserved_tag(tag_key: str) -> bool:
    return tag_key.lower().startswith("aws:")


def validated_new_tags(existing: Mapping[str, str], tags: Sequence[tuple[str, str]]) -> dict[str, str]:
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


def tag_facts(tags: Sequence[tuple[str, str]]) -> dict[str, str | Sequence[str] | None]:
    """aws:RequestTag/<k> and aws:TagKeys for requests that set tags."""
    facts: dict[str, str | Sequence[str] | None] = {f"aws:requesttag/{k.lower()}": v for k, v in tags}
    facts["aws:tagkeys"] = [k for k, _ in tags]
    return facts
