"""Keys, their material, aliases, tags, import tokens and access keys: the tables behind ``Store``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from trent.domain.aliases import Alias
from trent.domain.identity import AccessKey
from trent.domain.keys import ImportToken, Key, KeyState, Material
from trent.domain.paging import Page
from trent.storage.sql_base import SqlBase
from trent.storage.sql_base import dt as _dt
from trent.storage.sql_base import ts as _ts

_KEY_COLUMNS = (
    "key_id, account_id, region, arn, creation_date, description, key_spec, key_usage, origin, "
    "key_manager, state, policy, multi_region, deletion_date, current_material_id, "
    "rotation_period_days, next_rotation_date, on_demand_rotations, expiration_model, valid_to, "
    "primary_region, pending_window_days, on_demand_rotation_start_date"
)
_KEY_SEQ = 23  # position of seq after _KEY_COLUMNS in list_keys
_MATERIAL_COLUMNS = (
    "key_id, material_id, sealed, created_at, rotation_date, rotation_type, pending_rotation, "
    "expiration_model, valid_to, description"
)


class KeyTables(SqlBase):
    """Implements the key part of ``trent.services.ports.Store``."""

    # ----------------------------------------------------------------- keys

    def _key_from_row(self, row: Sequence[Any]) -> Key:
        return Key(
            key_id=row[0],
            account_id=row[1],
            region=row[2],
            arn=row[3],
            creation_date=datetime.fromtimestamp(row[4], UTC),
            description=row[5],
            key_spec=row[6],
            key_usage=row[7],
            origin=row[8],
            key_manager=row[9],
            state=KeyState(row[10]),
            policy=row[11],
            multi_region=bool(row[12]),
            deletion_date=_dt(row[13]),
            current_material_id=row[14],
            rotation_period_days=row[15],
            next_rotation_date=_dt(row[16]),
            on_demand_rotations=int(row[17]),
            expiration_model=row[18],
            valid_to=_dt(row[19]),
            primary_region=row[20],
            pending_window_days=row[21],
            on_demand_rotation_start_date=_dt(row[22]),
        )

    def get_key(self, region: str, key_id: str) -> Key | None:
        with self._lock:
            row = self._execute(
                f"SELECT {_KEY_COLUMNS} FROM keys WHERE region = ? AND key_id = ?", (region, key_id)
            ).fetchone()
            if row is None:
                return None
            key = self._key_from_row(row)
            key.tags = self.list_tags(region, key_id)
            return key

    def insert_key(self, key: Key) -> None:
        with self.transaction():
            self._execute(
                f"INSERT INTO keys ({_KEY_COLUMNS}) VALUES ({', '.join('?' * 23)})",
                self._key_params(key),
            )
            if key.tags:
                self.put_tags(key.region, key.key_id, key.tags)

    def update_key(self, key: Key) -> None:
        """Writes metadata only; tags change through put_tags/remove_tags."""
        params = self._key_params(key)
        self._write(
            "UPDATE keys SET account_id = ?, arn = ?, creation_date = ?, description = ?, key_spec = ?, "
            "key_usage = ?, origin = ?, key_manager = ?, state = ?, policy = ?, multi_region = ?, "
            "deletion_date = ?, current_material_id = ?, rotation_period_days = ?, next_rotation_date = ?, "
            "on_demand_rotations = ?, expiration_model = ?, valid_to = ?, primary_region = ?, pending_window_days = ?, "
            "on_demand_rotation_start_date = ? WHERE region = ? AND key_id = ?",
            (params[1], *params[3:], key.region, key.key_id),
        )

    @staticmethod
    def _key_params(key: Key) -> tuple[Any, ...]:
        return (
            key.key_id,
            key.account_id,
            key.region,
            key.arn,
            _ts(key.creation_date),
            key.description,
            key.key_spec,
            key.key_usage,
            key.origin,
            key.key_manager,
            key.state.value,
            key.policy,
            int(key.multi_region),
            None if key.deletion_date is None else _ts(key.deletion_date),
            key.current_material_id,
            key.rotation_period_days,
            None if key.next_rotation_date is None else _ts(key.next_rotation_date),
            key.on_demand_rotations,
            key.expiration_model,
            None if key.valid_to is None else _ts(key.valid_to),
            key.primary_region,
            key.pending_window_days,
            None if key.on_demand_rotation_start_date is None else _ts(key.on_demand_rotation_start_date),
        )

    def delete_key(self, region: str, key_id: str) -> None:
        """Removes the key with its aliases and tags; material goes when no region holds the id."""
        with self.transaction():
            self._execute("DELETE FROM keys WHERE region = ? AND key_id = ?", (region, key_id))
            self._execute(
                "INSERT INTO deleted_keys (key_id, region, deleted_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (key_id, region, _ts(datetime.now(UTC))),
            )
            self._execute("DELETE FROM aliases WHERE region = ? AND target_key_id = ?", (region, key_id))
            self._execute("DELETE FROM tags WHERE region = ? AND key_id = ?", (region, key_id))
            self._execute("DELETE FROM grants WHERE region = ? AND key_id = ?", (region, key_id))
            self._execute("DELETE FROM import_tokens WHERE region = ? AND key_id = ?", (region, key_id))
            remaining = self._execute("SELECT 1 FROM keys WHERE key_id = ? LIMIT 1", (key_id,)).fetchone()
            if remaining is None:
                self._execute("DELETE FROM key_materials WHERE key_id = ?", (key_id,))

    def count_keys(self) -> list[tuple[str, str, int]]:
        """(state, key spec, count) over every account and Region, for the metrics."""
        with self._lock:
            rows = self._execute("SELECT state, key_spec, COUNT(*) FROM keys GROUP BY state, key_spec").fetchall()
        return [(str(state), str(spec), int(count)) for state, spec, count in rows]

    def root_check(self) -> bytes | None:
        """The value sealed under the database's root key (None until the first start)."""
        with self._lock:
            row = self._execute("SELECT sealed FROM root_check WHERE id = 1").fetchone()
        return None if row is None else bytes(row[0])

    def set_root_check(self, sealed: bytes) -> None:
        """Record the first start's value; a concurrent first start keeps the one written first."""
        self._write("INSERT INTO root_check (id, sealed) VALUES (1, ?) ON CONFLICT DO NOTHING", (sealed,))

    def keys_with_id(self, key_id: str) -> Sequence[Key]:
        """The key with this id in every region that holds it (a multi-Region key's replicas)."""
        with self._lock:
            rows = self._execute(f"SELECT {_KEY_COLUMNS} FROM keys WHERE key_id = ?", (key_id,)).fetchall()
        return [self._key_from_row(r) for r in rows]

    def key_id_known(self, key_id: str) -> bool:
        """True when a key with this id exists in any region, or existed and was deleted."""
        with self._lock:
            row = self._execute(
                "SELECT 1 FROM keys WHERE key_id = ? UNION ALL SELECT 1 FROM deleted_keys WHERE key_id = ? LIMIT 1",
                (key_id, key_id),
            ).fetchone()
        return row is not None

    def list_keys(self, account_id: str, region: str, after: str | None, limit: int) -> Page[Key]:
        start = int(after) if after is not None else -1
        with self._lock:
            rows = self._execute(
                f"SELECT {_KEY_COLUMNS}, seq FROM keys WHERE account_id = ? AND region = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (account_id, region, start, limit + 1),
            ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([self._key_from_row(r) for r in rows], str(rows[-1][_KEY_SEQ]) if more and rows else None)

    def keys_due_for_deletion(self, now: datetime, limit: int) -> Sequence[Key]:
        with self._lock:
            rows = self._execute(
                f"SELECT {_KEY_COLUMNS} FROM keys WHERE deletion_date IS NOT NULL AND deletion_date <= ? "
                f"AND state = ? LIMIT ?{self.dialect.skip_locked}",
                (_ts(now), KeyState.PENDING_DELETION.value, limit),
            ).fetchall()
        return [self._key_from_row(r) for r in rows]

    # ----------------------------------------------------------------- material

    def insert_material(self, material: Material) -> None:
        self._write(
            f"INSERT INTO key_materials ({_MATERIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self._material_params(material),
        )

    def update_material(self, material: Material) -> None:
        params = self._material_params(material)
        self._write(
            "UPDATE key_materials SET sealed = ?, created_at = ?, rotation_date = ?, rotation_type = ?, "
            "pending_rotation = ?, expiration_model = ?, valid_to = ?, description = ? "
            "WHERE key_id = ? AND material_id = ?",
            (*params[2:], material.key_id, material.material_id),
        )

    @staticmethod
    def _material_params(material: Material) -> tuple[Any, ...]:
        return (
            material.key_id,
            material.material_id,
            material.sealed,
            _ts(material.created_at),
            None if material.rotation_date is None else _ts(material.rotation_date),
            material.rotation_type,
            int(material.pending_rotation),
            material.expiration_model,
            None if material.valid_to is None else _ts(material.valid_to),
            material.description,
        )

    @staticmethod
    def _material_from_row(r: Sequence[Any]) -> Material:
        return Material(
            key_id=r[0],
            material_id=r[1],
            sealed=bytes(r[2]),
            created_at=datetime.fromtimestamp(r[3], UTC),
            rotation_date=_dt(r[4]),
            rotation_type=r[5],
            pending_rotation=bool(r[6]),
            expiration_model=r[7],
            valid_to=_dt(r[8]),
            description=r[9],
        )

    def materials(self, key_id: str) -> Sequence[Material]:
        """Every material version of a key, oldest first (the first material, then each rotation)."""
        with self._lock:
            rows = self._execute(
                f"SELECT {_MATERIAL_COLUMNS} FROM key_materials WHERE key_id = ? ORDER BY created_at, rowid",
                (key_id,),
            ).fetchall()
        return [self._material_from_row(r) for r in rows]

    def delete_material(self, key_id: str, material_id: str) -> None:
        self._write("DELETE FROM key_materials WHERE key_id = ? AND material_id = ?", (key_id, material_id))

    # ----------------------------------------------------------------- import tokens

    def insert_import_token(self, token: ImportToken) -> None:
        self._write(
            "INSERT INTO import_tokens (token_id, region, key_id, wrapping_algorithm, wrapping_key_spec, "
            "sealed_private, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                token.token_id,
                token.region,
                token.key_id,
                token.wrapping_algorithm,
                token.wrapping_key_spec,
                token.sealed_private,
                _ts(token.valid_to),
            ),
        )

    def get_import_token(self, token_id: str) -> ImportToken | None:
        with self._lock:
            row = self._execute(
                "SELECT token_id, region, key_id, wrapping_algorithm, wrapping_key_spec, sealed_private, valid_to "
                "FROM import_tokens WHERE token_id = ?",
                (token_id,),
            ).fetchone()
        if row is None:
            return None
        return ImportToken(row[0], row[1], row[2], row[3], row[4], bytes(row[5]), datetime.fromtimestamp(row[6], UTC))

    def delete_expired_import_tokens(self, now: datetime) -> None:
        self._write("DELETE FROM import_tokens WHERE valid_to <= ?", (_ts(now),))

    def keys_creating(self, limit: int) -> Sequence[Key]:
        """New replicas still in Creating. The state is a literal so the partial index serves the
        query (with a parameter neither SQLite nor PostgreSQL can prove the index applies): this
        runs every second, and a full scan of a million keys would stall every request."""
        with self._lock:
            rows = self._execute(
                f"SELECT {_KEY_COLUMNS} FROM keys WHERE state = 'Creating' LIMIT ?{self.dialect.skip_locked}",
                (limit,),
            ).fetchall()
        return [self._key_from_row(r) for r in rows]

    def keys_due_for_rotation(self, now: datetime, limit: int) -> Sequence[Key]:
        with self._lock:
            rows = self._execute(
                f"SELECT {_KEY_COLUMNS} FROM keys WHERE next_rotation_date IS NOT NULL AND next_rotation_date <= ? "
                "AND state = ? AND (primary_region IS NULL OR primary_region = region) "
                f"LIMIT ?{self.dialect.skip_locked}",
                (_ts(now), KeyState.ENABLED.value, limit),
            ).fetchall()
        return [self._key_from_row(r) for r in rows]

    def keys_rotating_on_demand(self, limit: int) -> Sequence[Key]:
        with self._lock:
            rows = self._execute(
                f"SELECT {_KEY_COLUMNS} FROM keys WHERE on_demand_rotation_start_date IS NOT NULL "
                f"ORDER BY on_demand_rotation_start_date LIMIT ?{self.dialect.skip_locked}",
                (limit,),
            ).fetchall()
        return [self._key_from_row(r) for r in rows]

    def materials_expiring(self, now: datetime, limit: int) -> Sequence[Material]:
        """Imported material whose ValidTo has passed and whose bytes are still present."""
        with self._lock:
            rows = self._execute(
                f"SELECT {_MATERIAL_COLUMNS} FROM key_materials WHERE valid_to IS NOT NULL AND valid_to <= ? "
                f"AND length(sealed) > 0 LIMIT ?{self.dialect.skip_locked}",
                (_ts(now), limit),
            ).fetchall()
        return [self._material_from_row(r) for r in rows]

    # ----------------------------------------------------------------- aliases

    @staticmethod
    def _alias_from_row(row: Sequence[Any]) -> Alias:
        return Alias(
            account_id=row[0],
            region=row[1],
            alias_name=row[2],
            target_key_id=row[3],
            creation_date=datetime.fromtimestamp(row[4], UTC),
            last_updated_date=datetime.fromtimestamp(row[5], UTC),
        )

    def insert_alias(self, alias: Alias) -> bool:
        return self._insert_unique(
            "INSERT INTO aliases (account_id, region, alias_name, target_key_id, creation_date, "
            "last_updated_date) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                alias.account_id,
                alias.region,
                alias.alias_name,
                alias.target_key_id,
                _ts(alias.creation_date),
                _ts(alias.last_updated_date),
            ),
        )

    def update_alias(self, alias: Alias) -> None:
        self._write(
            "UPDATE aliases SET target_key_id = ?, last_updated_date = ? "
            "WHERE account_id = ? AND region = ? AND alias_name = ?",
            (alias.target_key_id, _ts(alias.last_updated_date), alias.account_id, alias.region, alias.alias_name),
        )

    def delete_alias(self, account_id: str, region: str, alias_name: str) -> None:
        self._write(
            "DELETE FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?",
            (account_id, region, alias_name),
        )

    def get_alias(self, account_id: str, region: str, alias_name: str) -> Alias | None:
        with self._lock:
            row = self._execute(
                "SELECT account_id, region, alias_name, target_key_id, creation_date, last_updated_date "
                "FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?",
                (account_id, region, alias_name),
            ).fetchone()
        return None if row is None else self._alias_from_row(row)

    def list_aliases(
        self, account_id: str, region: str, key_id: str | None, after: str | None, limit: int
    ) -> Page[Alias]:
        sql = (
            "SELECT account_id, region, alias_name, target_key_id, creation_date, last_updated_date "
            "FROM aliases WHERE account_id = ? AND region = ? AND alias_name > ?"
        )
        params: list[Any] = [account_id, region, after or ""]
        if key_id is not None:
            sql += " AND target_key_id = ?"
            params.append(key_id)
        sql += " ORDER BY alias_name LIMIT ?"
        params.append(limit + 1)
        with self._lock:
            rows = self._execute(sql, params).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([self._alias_from_row(r) for r in rows], rows[-1][2] if more and rows else None)

    def count_aliases(self, account_id: str, region: str, key_id: str) -> int:
        with self._lock:
            row = self._execute(
                "SELECT COUNT(*) FROM aliases WHERE account_id = ? AND region = ? AND target_key_id = ?",
                (account_id, region, key_id),
            ).fetchone()
        return int(row[0])

    # ----------------------------------------------------------------- tags

    def put_tags(self, region: str, key_id: str, tags: dict[str, str]) -> None:
        with self.transaction():
            for tag_key, tag_value in tags.items():
                self._execute(
                    "INSERT INTO tags (region, key_id, tag_key, tag_value) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (region, key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
                    (region, key_id, tag_key, tag_value),
                )

    def remove_tags(self, region: str, key_id: str, tag_keys: Sequence[str]) -> None:
        with self.transaction():
            for tag_key in tag_keys:
                self._execute(
                    "DELETE FROM tags WHERE region = ? AND key_id = ? AND tag_key = ?", (region, key_id, tag_key)
                )

    def list_tags(self, region: str, key_id: str) -> dict[str, str]:
        with self._lock:
            rows = self._execute(
                "SELECT tag_key, tag_value FROM tags WHERE region = ? AND key_id = ? ORDER BY tag_key",
                (region, key_id),
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    # ----------------------------------------------------------------- access keys

    def get_access_key(self, access_key_id: str) -> AccessKey | None:
        with self._lock:
            row = self._execute(
                "SELECT access_key_id, account_id, principal_arn, principal_type, user_name, sealed_secret, "
                "status FROM access_keys WHERE access_key_id = ?",
                (access_key_id,),
            ).fetchone()
        if row is None:
            return None
        return AccessKey(row[0], row[1], row[2], row[3], row[4], bytes(row[5]), row[6])
