"""SQLite plumbing shared by the store's parts: connection, migrations, transactions, change token."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from trent.domain.errors import StorageError

# Statements that change state; audit appends use the connection directly and are not counted.
_STATE_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLAC"})


def ts(value: datetime) -> float:
    return value.timestamp()


def dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("trent.storage.migrations").joinpath("sqlite")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SqliteBase:
    """One SQLite database: WAL, synchronous=FULL (durable on commit), migrations applied on open.

    One connection per process, guarded by a lock; uvicorn runs requests on one thread, the
    lock protects the background tasks. Other processes (``--workers``) see state changes through
    the ``state_version`` row, which ``change_token`` reads so their caches stay honest.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._dirty = False  # the open transaction changed state (audit appends do not count)
        self._local_changes = 0
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._migrate()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the database at {path}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ----------------------------------------------------------------- plumbing

    def _migrate(self) -> None:
        with self.transaction():
            current = self._db.execute("PRAGMA user_version").fetchone()[0]
            for version, script in _migrations():
                if version > current:
                    # Comments may hold semicolons; drop them before splitting into statements.
                    code = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
                    for statement in code.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {int(version)}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    self._dirty = False
                    # Anything cached while the transaction was open may reflect rolled-back writes.
                    self._local_changes += 1
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outermost:
                try:
                    if self._dirty:
                        self._db.execute("UPDATE state_version SET version = version + 1 WHERE id = 1")
                    self._execute("COMMIT")
                except BaseException:
                    self._local_changes += 1
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                finally:
                    self._dirty = False

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Reads inside see one committed state: other processes' later commits stay invisible.

        A deferred transaction in WAL mode: it takes no write lock, so writers are not held back.
        Inside a transaction already open, it is that transaction.
        """
        with self._lock:
            if self._depth:
                yield
                return
            self._execute("BEGIN")
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                self._dirty = False
                self._db.execute("ROLLBACK")

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        if sql[:6] in _STATE_WRITES:
            if not self._depth:  # an autocommitted write would not move state_version
                raise StorageError("state written outside a transaction")
            self._dirty = True
        try:
            return self._db.execute(sql, params)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StorageError("the database rejected an operation") from exc

    def _write(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self.transaction():
            return self._execute(sql, params)

    def _insert_unique(self, sql: str, params: Sequence[Any]) -> bool:
        """Insert, letting a unique constraint decide: False when the row already exists."""
        try:
            self._write(sql, params)
        except sqlite3.IntegrityError:
            return False
        return True

    def change_token(self) -> int:
        # state_version moves with every state change by any process, but not with audit appends:
        # audit records are written for every request and must not empty the caches.
        with self._lock:
            version = int(self._execute("SELECT version FROM state_version WHERE id = 1").fetchone()[0])
            return (version << 32) | (self._local_changes & 0xFFFFFFFF)
