"""Web console sessions: the console_sessions table.

Session writes are not KMS state: they go through ``_execute_untracked`` so that signing in, or a
page view moving ``last_seen``, never moves ``state_version`` and so never empties other processes'
caches.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from trent.domain.console_sessions import ConsoleSessionRecord
from trent.storage.sql_base import SqlBase
from trent.storage.sql_base import ts as _ts


def _from_row(row: Sequence[Any]) -> ConsoleSessionRecord:
    return ConsoleSessionRecord(
        id_hash=row[0],
        access_key_id=row[1],
        region=row[2],
        dev_root=bool(row[3]),
        created=datetime.fromtimestamp(row[4], UTC),
        last_seen=datetime.fromtimestamp(row[5], UTC),
        flash=row[6],
    )


class ConsoleSessionTables(SqlBase):
    def insert_console_session(self, record: ConsoleSessionRecord) -> None:
        with self.transaction():
            self._execute_untracked(
                "INSERT INTO console_sessions (id_hash, access_key_id, region, dev_root, created, last_seen, flash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id_hash,
                    record.access_key_id,
                    record.region,
                    int(record.dev_root),
                    _ts(record.created),
                    _ts(record.last_seen),
                    record.flash,
                ),
            )

    def console_session(self, id_hash: str) -> ConsoleSessionRecord | None:
        with self._lock:
            row = self._execute_untracked(
                "SELECT id_hash, access_key_id, region, dev_root, created, last_seen, flash "
                "FROM console_sessions WHERE id_hash = ?",
                (id_hash,),
            ).fetchone()
        return None if row is None else _from_row(row)

    def update_console_session(self, id_hash: str, *, region: str, flash: str | None, last_seen: datetime) -> None:
        with self.transaction():
            self._execute_untracked(
                "UPDATE console_sessions SET region = ?, flash = ?, last_seen = ? WHERE id_hash = ?",
                (region, flash, _ts(last_seen), id_hash),
            )

    def delete_console_session(self, id_hash: str) -> None:
        with self.transaction():
            self._execute_untracked("DELETE FROM console_sessions WHERE id_hash = ?", (id_hash,))

    def delete_console_sessions_idle_since(self, cutoff: datetime) -> int:
        """Sessions last seen before ``cutoff`` have expired: remove them, return how many."""
        with self.transaction():
            cursor = self._execute_untracked("DELETE FROM console_sessions WHERE last_seen < ?", (_ts(cutoff),))
        return cursor.rowcount

    # ----------------------------------------------------------------- failed sign-ins

    def record_sign_in_failure(self, subjects: Sequence[str], at: datetime, forget_before: datetime) -> None:
        """One failure for each subject; failures before ``forget_before`` no longer count and go."""
        with self.transaction():
            self._execute_untracked("DELETE FROM console_sign_in_failures WHERE failed_at < ?", (_ts(forget_before),))
            self._executemany_untracked(
                "INSERT INTO console_sign_in_failures (subject, failed_at) VALUES (?, ?)",
                [(subject, _ts(at)) for subject in subjects],
            )

    def recent_sign_in_failures(self, subject: str, since: datetime, limit: int) -> list[datetime]:
        """The newest ``limit`` failures of ``subject`` after ``since``, newest first."""
        with self._lock:
            rows = self._execute_untracked(
                "SELECT failed_at FROM console_sign_in_failures WHERE subject = ? AND failed_at > ? "
                "ORDER BY failed_at DESC LIMIT ?",
                (subject, _ts(since), limit),
            ).fetchall()
        return [datetime.fromtimestamp(row[0], UTC) for row in rows]

    def clear_sign_in_failures(self, subject: str) -> None:
        with self.transaction():
            self._execute_untracked("DELETE FROM console_sign_in_failures WHERE subject = ?", (subject,))
