"""Ports: what the services need from the outside world, implemented by storage/ and rot/."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from trent.domain.identity import AccessKey
from trent.domain.keys import Key, Material


class Clock(Protocol):
    def now(self) -> datetime: ...


class RootOfTrust(Protocol):
    """Seals key material and secrets; the only holder of the key that protects them."""

    def seal(self, plaintext: bytes, aad: bytes) -> bytes: ...

    def unseal(self, sealed: bytes, aad: bytes) -> bytes:
        """Raise ``trent.domain.errors.RootOfTrustError`` when the blob does not open."""
        ...


@dataclass(frozen=True, slots=True)
class Alias:
    account_id: str
    region: str
    alias_name: str
    target_key_id: str
    creation_date: datetime
    last_updated_date: datetime


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    # The sort position of the last item, when more items follow; the api makes it opaque.
    next_position: str | None


class Store(Protocol):
    """Repository of keys, materials, aliases, tags and access keys.

    Every method runs in its own transaction unless called inside ``transaction()``.
    Uniqueness (alias names) is enforced by the store itself, not by read-then-write.
    """

    def transaction(self) -> AbstractContextManager[None]: ...

    def change_token(self) -> int:
        """Changes whenever any process has committed a change: caches compare it per request."""
        ...

    # keys
    def get_key(self, region: str, key_id: str) -> Key | None: ...
    def insert_key(self, key: Key) -> None: ...
    def update_key(self, key: Key) -> None: ...
    def delete_key(self, region: str, key_id: str) -> None: ...
    def list_keys(self, account_id: str, region: str, after: str | None, limit: int) -> Page[Key]: ...
    def keys_due_for_deletion(self, now: datetime, limit: int) -> Sequence[Key]: ...

    # material
    def insert_material(self, material: Material) -> None: ...
    def materials(self, key_id: str) -> Sequence[Material]: ...

    # aliases
    def insert_alias(self, alias: Alias) -> bool:
        """False when the name is taken (the unique constraint decided)."""
        ...

    def update_alias(self, alias: Alias) -> None: ...
    def delete_alias(self, account_id: str, region: str, alias_name: str) -> None: ...
    def get_alias(self, account_id: str, region: str, alias_name: str) -> Alias | None: ...
    def list_aliases(
        self, account_id: str, region: str, key_id: str | None, after: str | None, limit: int
    ) -> Page[Alias]: ...
    def count_aliases(self, account_id: str, region: str, key_id: str) -> int: ...

    # tags
    def put_tags(self, region: str, key_id: str, tags: dict[str, str]) -> None: ...
    def remove_tags(self, region: str, key_id: str, tag_keys: Sequence[str]) -> None: ...
    def list_tags(self, region: str, key_id: str) -> dict[str, str]: ...

    # access keys
    def get_access_key(self, access_key_id: str) -> AccessKey | None: ...
    def insert_access_key(self, access_key: AccessKey) -> None: ...
    def count_access_keys(self) -> int: ...
