"""In-memory cache of keys, aliases and unsealed material, dropped whenever the store changes.

Every request starts with ``sync()``: one cheap call to the store's change token. A commit by this
process or any other (another ``--workers`` process, the deletion task) changes the token and the
whole cache is dropped, so a disabled or deleted key stops working on the next request.
"""

from __future__ import annotations

from trent.domain.grants import Grant
from trent.domain.keys import Key, Material
from trent.services.ports import RootOfTrust, Store

_MAX_ENTRIES = 50_000


def material_aad(key_id: str, material_id: str) -> bytes:
    """Binds sealed material to its key and version: swapped blobs fail to open."""
    return b"trent:key-material:v1\x00" + key_id.encode() + b"\x00" + material_id.encode()


class KeyCache:
    def __init__(self, store: Store, root: RootOfTrust) -> None:
        self._store = store
        self._root = root
        self._token: int | None = None
        self._keys: dict[tuple[str, str], Key | None] = {}
        self._aliases: dict[tuple[str, str, str], str | None] = {}
        self._materials: dict[str, dict[str, bytes]] = {}
        self._grants: dict[tuple[str, str], tuple[Grant, ...]] = {}
        self._alias_names: dict[tuple[str, str, str], tuple[str, ...]] = {}
        # Lookups answered from memory and from the store, for the metrics (read, never reset).
        self.key_hits = 0
        self.key_misses = 0
        self.material_hits = 0
        self.material_misses = 0

    def sync(self, change_token: int | None = None) -> None:
        token = self._store.change_token() if change_token is None else change_token
        if token != self._token or len(self._keys) > _MAX_ENTRIES:
            self.clear()
            self._token = token

    def clear(self) -> None:
        self._keys.clear()
        self._aliases.clear()
        self._materials.clear()
        self._grants.clear()
        self._alias_names.clear()

    def key(self, region: str, key_id: str) -> Key | None:
        cache_key = (region, key_id)
        try:
            found = self._keys[cache_key]
        except KeyError:
            self.key_misses += 1
            key = self._store.get_key(region, key_id)
            self._keys[cache_key] = key
            return key
        self.key_hits += 1
        return found

    def alias_target(self, account_id: str, region: str, alias_name: str) -> str | None:
        cache_key = (account_id, region, alias_name)
        try:
            return self._aliases[cache_key]
        except KeyError:
            alias = self._store.get_alias(account_id, region, alias_name)
            target = None if alias is None else alias.target_key_id
            self._aliases[cache_key] = target
            return target

    def alias_names(self, account_id: str, region: str, key_id: str) -> tuple[str, ...]:
        """The aliases of a key (kms:ResourceAliases); AWS caps them at 50 per key."""
        cache_key = (account_id, region, key_id)
        found = self._alias_names.get(cache_key)
        if found is None:
            page = self._store.list_aliases(account_id, region, key_id, None, 100)
            found = tuple(a.alias_name for a in page.items)
            self._alias_names[cache_key] = found
        return found

    def grants(self, region: str, key_id: str) -> tuple[Grant, ...]:
        cache_key = (region, key_id)
        found = self._grants.get(cache_key)
        if found is None:
            found = tuple(self._store.grants_of_key(region, key_id))
            self._grants[cache_key] = found
        return found

    def material(self, key_id: str, material_id: str) -> bytes | None:
        """Unsealed material of one version, or None when the key has no such version."""
        versions = self._materials.get(key_id)
        if versions is not None:
            self.material_hits += 1
        else:
            self.material_misses += 1
            versions = {m.material_id: self._unseal(m) for m in self._store.materials(key_id) if m.present}
            self._materials[key_id] = versions
        return versions.get(material_id)

    def _unseal(self, material: Material) -> bytes:
        # A blob that does not open raises RootOfTrustError: a storage integrity failure (500),
        # never a client error.
        return self._root.unseal(material.sealed, material_aad(material.key_id, material.material_id))
