"""The embedded back end: one SQLite file, WAL, synchronous=FULL (durable on commit)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trent.domain.errors import StorageError
from trent.storage.sql_base import Cursor, Dialect, SqlBase, migrations, statements

SQLITE = Dialect(name="sqlite", lock_rows="", skip_locked="", instr="instr", char="char")


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=30000")
    return db


class SqliteBase(SqlBase):
    """One connection per store object; BEGIN IMMEDIATE takes the database's one write lock, so
    everything read inside a write transaction stays true until it commits (across processes)."""

    dialect = SQLITE

    def __init__(self, path: Path, *, migrate: bool = True) -> None:
        super().__init__()
        self._path = path
        try:
            self._db = connect(path)
            if migrate:
                self._migrate()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the database at {path}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _migrate(self) -> None:
        with self.transaction():
            current = self._db.execute("PRAGMA user_version").fetchone()[0]
            for version, script in migrations("sqlite"):
                if version > current:
                    for statement in statements(script):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {int(version)}")

    def _raw(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._db.execute(sql, params)

    def _raw_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def _begin(self, *, write: bool) -> None:
        self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def _end(self, *, commit: bool) -> None:
        if commit:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _is_integrity_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError)

    def _is_database_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error)
