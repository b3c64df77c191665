"""The audit trail in SQLite: appends (chained), the digest and signing-key tables, and lookups."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from trent.domain.audit import GENESIS_HASH, AuditEvent, Digest, KeyUsage, SigningKey, StoredEvent, chain_hash
from trent.domain.errors import AuditWriteError
from trent.storage.sqlite_base import SqliteBase
from trent.storage.sqlite_base import dt as _dt
from trent.storage.sqlite_base import ts as _ts


def append_events(db: sqlite3.Connection, events: Sequence[AuditEvent]) -> int:
    """Chain and insert ``events`` inside the caller's write transaction; returns the newest sequence.

    The head row is read and written under the same write lock as the inserts, so appends from
    any number of connections or processes form one chain.
    """
    row = db.execute("SELECT sequence, chain_hash FROM audit_head WHERE id = 1").fetchone()
    sequence, previous = (int(row[0]), bytes(row[1])) if row else (0, GENESIS_HASH)
    rows: list[tuple[object, ...]] = []
    for event in events:
        sequence += 1
        record = orjson.dumps(event.record)
        previous = chain_hash(previous, sequence, record)
        rows.append(
            (
                sequence,
                event.event_id,
                _ts(event.event_time),
                event.event_name,
                event.event_source,
                int(event.read_only),
                event.region,
                event.account_id,
                event.username,
                event.access_key_id,
                "\n".join(f"{resource.resource_type}\t{resource.name}" for resource in event.resources),
                record,
                previous,
            )
        )
    db.executemany(
        "INSERT INTO audit_events (sequence, event_id, event_time, event_name, event_source, read_only, region, "
        "account_id, username, access_key_id, resources, record, chain_hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.execute(
        "INSERT INTO audit_head (id, sequence, chain_hash) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET sequence = excluded.sequence, chain_hash = excluded.chain_hash",
        (sequence, previous),
    )
    _record_key_uses(db, events)
    return sequence


def _record_key_uses(db: sqlite3.Connection, events: Sequence[AuditEvent]) -> None:
    """GetKeyLastUsage's rows: one upsert per key per batch, however many uses the batch holds."""
    latest: dict[str, tuple[object, ...]] = {}
    for event in events:
        for key_arn in event.key_uses:
            latest[key_arn] = (
                key_arn,
                event.event_name,
                _ts(event.event_time),
                event.event_id,
                str(event.record.get("requestID", "")),
            )
    if latest:
        db.executemany(
            "INSERT INTO key_last_usage (key_arn, operation, used_at, event_id, request_id) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (key_arn) DO UPDATE SET operation = excluded.operation, used_at = excluded.used_at, "
            "event_id = excluded.event_id, request_id = excluded.request_id WHERE excluded.used_at >= used_at",
            list(latest.values()),
        )


class SqliteAuditWriter:
    """A second connection that appends batches of audit events, one durable commit per batch.

    Requests that change nothing (Encrypt, Decrypt, ...) only need their record made durable; the
    group committer hands this writer everything that queued up during the previous commit, so
    one fsync serves many requests. It has its own connection so the request thread never waits
    on the writer's lock for reads.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise AuditWriteError.unrecorded() from exc

    def append(self, events: Sequence[AuditEvent]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    append_events(self._db, events)
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise AuditWriteError.unrecorded() from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()


_EPOCH = datetime.fromtimestamp(0, UTC)

_LOOKUP_COLUMNS = {
    "EventId": "event_id = ?",
    "EventName": "event_name = ?",
    "Username": "username = ?",
    "AccessKeyId": "access_key_id = ?",
    "EventSource": "event_source = ?",
    "ReadOnly": "read_only = ?",
    # Exact matches inside the "type<TAB>name" lines.
    "ResourceName": "instr(char(9) || replace(resources, char(10), char(10) || char(9)) || char(10), "
    "char(9) || ? || char(10)) > 0",
    "ResourceType": "instr(char(10) || resources, char(10) || ? || char(9)) > 0",
}


class SqliteAuditMixin(SqliteBase):
    """Implements ``trent.services.ports.AuditStore`` on the main connection."""

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        with self.transaction():
            try:
                append_events(self._db, events)
            except sqlite3.Error as exc:
                raise AuditWriteError.unrecorded() from exc

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
            where.append(_LOOKUP_COLUMNS[key])
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
            try:
                self._db.execute(
                    "INSERT INTO audit_digests (sequence, created, covers_to, body, signature) VALUES (?, ?, ?, ?, ?)",
                    (digest.sequence, _ts(created), covers_to, digest.body, digest.signature),
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def audit_signing_keys(self) -> list[SigningKey]:
        with self._lock:
            rows = self._execute(
                "SELECT fingerprint, public_der, sealed_private, created FROM audit_signing_keys ORDER BY created"
            ).fetchall()
        return [SigningKey(row[0], bytes(row[1]), bytes(row[2]), _dt(row[3]) or _EPOCH) for row in rows]

    def insert_audit_signing_key(self, key: SigningKey) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO audit_signing_keys (fingerprint, public_der, sealed_private, created) "
                "VALUES (?, ?, ?, ?)",
                (key.fingerprint, key.public_der, key.sealed_private, _ts(key.created)),
            )
