"""The audit trail's tables: appends (chained), digests, signing keys, lookups, last key uses."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import orjson

from trent.domain.audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditResource,
    Digest,
    KeyUsage,
    SigningKey,
    StoredEvent,
    chain_hash,
)
from trent.domain.errors import AuditWriteError, StorageError
from trent.storage.sql_base import Dialect, SqlBase
from trent.storage.sql_base import dt as _dt
from trent.storage.sql_base import ts as _ts


class StoreAuditWriter:
    """Appends batches of audit events through a store object of its own, one commit per batch.

    Requests that change nothing (Encrypt, Decrypt, ...) only need their record made durable; the
    group committer hands this writer everything that queued up during the previous commit, so
    one fsync serves many requests. A store object of its own (its own connection) means the
    request thread never waits on the writer's lock for reads.
    """

    def __init__(self, store: AuditTables) -> None:
        self._store = store

    def append(self, events: Sequence[AuditEvent]) -> None:
        self._store.append_audit(events)

    def close(self) -> None:
        self._store.close()


_EPOCH = datetime.fromtimestamp(0, UTC)


def _lookup_columns(dialect: Dialect) -> dict[str, str]:
    tab, newline = f"{dialect.char}(9)", f"{dialect.char}(10)"
    return {
        "EventId": "event_id = ?",
        "EventName": "event_name = ?",
        "Username": "username = ?",
        "AccessKeyId": "access_key_id = ?",
        "EventSource": "event_source = ?",
        "ReadOnly": "read_only = ?",
        # Exact matches inside the "type<TAB>name" lines.
        "ResourceName": f"{dialect.instr}({tab} || replace(resources, {newline}, {newline} || {tab}) || {newline}, "
        f"{tab} || ? || {newline}) > 0",
        "ResourceType": f"{dialect.instr}({newline} || resources, {newline} || ? || {tab}) > 0",
    }


def _resource_lines(resources: tuple[AuditResource, ...]) -> str:
    """The resources column: one "type<TAB>name" line per resource."""
    if len(resources) == 1:  # nearly every record names one key; join() and a list would cost more
        return f"{resources[0].resource_type}\t{resources[0].name}"
    return "\n".join([f"{resource.resource_type}\t{resource.name}" for resource in resources])


class AuditTables(SqlBase):
    """Implements ``trent.services.ports.AuditStore``: the chained trail, digests, signing keys."""

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        """Chain and insert ``events`` in one transaction; AuditWriteError when that fails.

        The head row is read and written under the same write lock as the inserts (the database's
        one write lock on SQLite, the head row's lock on PostgreSQL), so appends from any number
        of connections, processes or nodes form one chain.
        """
        try:
            with self.transaction():
                self._append_events(events)
        except (StorageError, AuditWriteError) as exc:
            raise AuditWriteError.unrecorded() from exc
        except Exception as exc:
            if self._is_database_error(exc):
                raise AuditWriteError.unrecorded() from exc
            raise

    def _append_events(self, events: Sequence[AuditEvent]) -> None:
        head = f"SELECT sequence, chain_hash FROM audit_head WHERE id = 1{self.dialect.lock_rows}"
        row = self._execute_untracked(head).fetchone()
        if row is None:  # the first append ever: one statement more, once (a round trip on PostgreSQL)
            self._execute_untracked(
                "INSERT INTO audit_head (id, sequence, chain_hash) VALUES (1, 0, ?) ON CONFLICT DO NOTHING",
                (GENESIS_HASH,),
            )
            row = self._execute_untracked(head).fetchone()
        sequence, previous = int(row[0]), bytes(row[1])
        rows: list[tuple[object, ...]] = []
        # GetKeyLastUsage's rows, gathered in the same pass: the batch's latest use of each key.
        key_uses: dict[str, tuple[object, ...]] = {}
        for event in events:
            sequence += 1
            record = orjson.dumps(event.record)
            previous = chain_hash(previous, sequence, record)
            event_time = _ts(event.event_time)
            rows.append(
                (
                    sequence,
                    event.event_id,
                    event_time,
                    event.event_name,
                    event.event_source,
                    int(event.read_only),
                    event.region,
                    event.account_id,
                    event.username,
                    event.access_key_id,
                    _resource_lines(event.resources),
                    record,
                    previous,
                )
            )
            for key_arn in event.key_uses:
                key_uses[key_arn] = (
                    key_arn,
                    event.event_name,
                    event_time,
                    event.event_id,
                    str(event.record.get("requestID", "")),
                )
        with self._pipelined():  # nothing below is read back: on PostgreSQL, one round trip for all of it
            self._write_batch(rows, sequence, previous, key_uses)

    def _write_batch(
        self,
        rows: list[tuple[object, ...]],
        sequence: int,
        previous: bytes,
        key_uses: dict[str, tuple[object, ...]],
    ) -> None:
        self._executemany_untracked(
            "INSERT INTO audit_events (sequence, event_id, event_time, event_name, event_source, read_only, region, "
            "account_id, username, access_key_id, resources, record, chain_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        self._execute_untracked("UPDATE audit_head SET sequence = ?, chain_hash = ? WHERE id = 1", (sequence, previous))
        self._record_key_uses(key_uses)

    def _record_key_uses(self, latest: dict[str, tuple[object, ...]]) -> None:
        """GetKeyLastUsage's rows: one upsert per key per batch, however many uses the batch holds."""
        if latest:
            self._executemany_untracked(
                "INSERT INTO key_last_usage (key_arn, operation, used_at, event_id, request_id) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_arn) DO UPDATE SET operation = excluded.operation, "
                "used_at = excluded.used_at, event_id = excluded.event_id, request_id = excluded.request_id "
                "WHERE excluded.used_at >= key_last_usage.used_at",
                list(latest.values()),
            )

    def audit_head(self) -> tuple[int, bytes] | None:
        with self._lock:
            row = self._execute("SELECT sequence, chain_hash FROM audit_head WHERE id = 1").fetchone()
            return None if row is None else (int(row[0]), bytes(row[1]))

    def audit_events(self, after: int = 0, batch: int = 5000) -> Iterator[StoredEvent]:
        """Every stored event in sequence order, read in batches (the trail may be large)."""
        while True:
            with self._lock:
                rows = self._execute(
                    "SELECT sequence, record, chain_hash FROM audit_events "
                    "WHERE sequence > ? ORDER BY sequence LIMIT ?",
                    (after, batch),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield StoredEvent(int(row[0]), bytes(row[1]), bytes(row[2]))
            after = int(rows[-1][0])

    def audit_events_between(
        self, start: datetime, end: datetime, after: int = 0, batch: int = 5000
    ) -> Iterator[tuple[int, float, bytes]]:
        """(sequence, event time, record) for events with start <= time < end, in sequence order."""
        while True:
            with self._lock:
                rows = self._execute(
                    "SELECT sequence, event_time, record FROM audit_events "
                    "WHERE sequence > ? AND event_time >= ? AND event_time < ? ORDER BY sequence LIMIT ?",
                    (after, _ts(start), _ts(end), batch),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield int(row[0]), float(row[1]), bytes(row[2])
            after = int(rows[-1][0])

    def lookup_audit_events(
        self,
        region: str,
        attribute: tuple[str, str] | None,
        start: datetime | None,
        end: datetime | None,
        before: int | None,
        limit: int,
    ) -> list[tuple[int, bytes]]:
        """Newest first: (sequence, record) of the region's events matching one attribute."""
        where = ["region = ?"]
        params: list[object] = [region]
        if attribute is not None:
            key, value = attribute
            where.append(_lookup_columns(self.dialect)[key])
            params.append(int(value.lower() == "true") if key == "ReadOnly" else value)
        if start is not None:
            where.append("event_time >= ?")
            params.append(_ts(start))
        if end is not None:
            where.append("event_time <= ?")
            params.append(_ts(end))
        if before is not None:
            where.append("sequence < ?")
            params.append(before)
        params.append(limit)
        sql = (
            "SELECT sequence, record FROM audit_events WHERE " + " AND ".join(where) + " ORDER BY sequence DESC LIMIT ?"
        )
        with self._lock:
            return [(int(row[0]), bytes(row[1])) for row in self._execute(sql, params).fetchall()]

    def key_last_usage(self, key_arn: str) -> KeyUsage | None:
        with self._lock:
            row = self._execute(
                "SELECT operation, used_at, event_id, request_id FROM key_last_usage WHERE key_arn = ?", (key_arn,)
            ).fetchone()
        if row is None:
            return None
        return KeyUsage(row[0], datetime.fromtimestamp(row[1], UTC), row[2], row[3])

    # ----------------------------------------------------------------- digests

    def audit_digests(self) -> list[Digest]:
        with self._lock:
            rows = self._execute("SELECT sequence, body, signature FROM audit_digests ORDER BY sequence").fetchall()
        return [Digest(int(row[0]), bytes(row[1]), bytes(row[2])) for row in rows]

    def last_audit_digest(self) -> tuple[Digest, int] | None:
        """The newest digest and the sequence it covers."""
        with self._lock:
            row = self._execute(
                "SELECT sequence, body, signature, covers_to FROM audit_digests ORDER BY sequence DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (Digest(int(row[0]), bytes(row[1]), bytes(row[2])), int(row[3]))

    def insert_audit_digest(self, digest: Digest, created: datetime, covers_to: int) -> bool:
        """False when another process wrote that digest first (the sequence is taken)."""
        with self.transaction():
            inserted = self._execute_untracked(
                "INSERT INTO audit_digests (sequence, created, covers_to, body, signature) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (digest.sequence, _ts(created), covers_to, digest.body, digest.signature),
            )
        return inserted.rowcount > 0

    def audit_signing_keys(self) -> list[SigningKey]:
        with self._lock:
            rows = self._execute(
                "SELECT fingerprint, public_der, sealed_private, created FROM audit_signing_keys ORDER BY created"
            ).fetchall()
        return [SigningKey(row[0], bytes(row[1]), bytes(row[2]), _dt(row[3]) or _EPOCH) for row in rows]

    def insert_audit_signing_key(self, key: SigningKey) -> None:
        with self.transaction():
            self._execute_untracked(
                "INSERT INTO audit_signing_keys (fingerprint, public_der, sealed_private, created) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (key.fingerprint, key.public_der, key.sealed_private, _ts(key.created)),
            )
