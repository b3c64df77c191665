"""The embedded back end: one SQLite file, WAL, synchronous=FULL (durable on commit)."""

from __future__ import annotations

import fcntl
import mmap
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from trent.domain.errors import StorageError
from trent.storage.sql_base import Cursor, Dialect, SqlBase, migrations, statements

SQLITE = Dialect(name="sqlite", lock_rows="", skip_locked="", instr="instr", char="char")
_VERSION = struct.Struct("<Q")
# The state_version row is re-read this often anyway, so that a process killed between its commit
# and its update of the shared mirror delays other processes' cache refresh by at most this long.
_RECONCILE_SECONDS = 0.5


# A serving process checkpoints the WAL from a thread (WalCheckpointer); its request connections
# only checkpoint themselves, on the event loop, if the WAL grows this large (~40 MB) regardless.
_BACKSTOP_CHECKPOINT_PAGES = 10_000


def connect(path: Path, *, background_checkpoints: bool = False) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=30000")
    if background_checkpoints:
        db.execute(f"PRAGMA wal_autocheckpoint={_BACKSTOP_CHECKPOINT_PAGES}")
    return db


class WalCheckpointer:
    """Copies the WAL back into the database file from a connection of its own.

    By default the commit that crosses 1,000 WAL pages does that copy (and its fsync) itself, on
    the event loop, so every request waiting for that group commit waited milliseconds longer: the
    tail of the latency. Run from a worker thread, a PASSIVE checkpoint takes no lock that readers
    or the writer wait on; SQLite releases the GIL while it works.
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=0")  # another process checkpointing: skip this turn
        self._lock = threading.Lock()  # close() at shutdown waits for a checkpoint still running
        self._closed = False

    def checkpoint(self) -> None:
        with self._lock, suppress(sqlite3.OperationalError):  # busy: the next turn will do it
            if not self._closed:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._db.close()


class SharedVersion:
    """``state_version`` mirrored in a memory-mapped file beside the database.

    Every process on the machine maps the same 8 bytes, so reading the change token costs a memory
    read instead of a SQLite statement per request (~8 us). A writer publishes the version its
    commit produced, right after the commit; a reader that sees another value than last time
    re-reads what it caches. Writes hold an exclusive lock on the file and never lower the value,
    so a slow publisher cannot bring back a value a reader has already cached state under.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(self._fd).st_size < _VERSION.size:
                os.ftruncate(self._fd, _VERSION.size)
            self._map = mmap.mmap(self._fd, _VERSION.size)
        except OSError:
            os.close(self._fd)
            raise

    def read(self) -> int:
        return int(_VERSION.unpack_from(self._map)[0])

    def publish(self, version: int) -> None:
        with self._locked():
            if version > self.read():
                _VERSION.pack_into(self._map, 0, version)

    def reset(self, read_version: Callable[[], int]) -> None:
        """Take the database's version as it is, even a lower one (a restored database file)."""
        with self._locked():
            _VERSION.pack_into(self._map, 0, read_version())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if not self._map.closed:
            self._map.close()
            os.close(self._fd)


def _shared_version(database: Path) -> SharedVersion | None:
    try:
        return SharedVersion(database.with_name(database.name + "-version"))
    except OSError:
        return None  # a read-only directory: read the row per request instead


class SqliteBase(SqlBase):
    """One connection per store object; BEGIN IMMEDIATE takes the database's one write lock, so
    everything read inside a write transaction stays true until it commits (across processes)."""

    dialect = SQLITE

    def __init__(self, path: Path, *, migrate: bool = True, background_checkpoints: bool = False) -> None:
        super().__init__()
        self._path = path
        self._committed_version: int | None = None  # what the open transaction's commit will publish
        try:
            self._db = connect(path, background_checkpoints=background_checkpoints)
            if migrate:
                self._migrate()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the database at {path}") from exc
        self._shared = _shared_version(path)
        self._next_reconcile = time.monotonic() + _RECONCILE_SECONDS
        if self._shared is not None and migrate:
            # Opened by a server or an admin command: the file may be a restored, older database.
            self._shared.reset(self._state_version)

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._shared is not None:
                self._shared.close()

    def _state_version(self) -> int:
        return int(self._raw("SELECT version FROM state_version WHERE id = 1").fetchone()[0])

    def _bump_state_version(self) -> None:
        row = self._raw("UPDATE state_version SET version = version + 1 WHERE id = 1 RETURNING version").fetchone()
        self._committed_version = None if row is None else int(row[0])

    def change_token(self) -> int:
        shared = self._shared
        if shared is None:
            return super().change_token()
        with self._lock:
            if time.monotonic() >= self._next_reconcile:
                self._next_reconcile = time.monotonic() + _RECONCILE_SECONDS
                shared.publish(self._state_version())
            return (shared.read() << 32) | (self._local_changes & 0xFFFFFFFF)

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
        version, self._committed_version = self._committed_version, None
        if commit:
            self._db.execute("COMMIT")
            if version is not None and self._shared is not None:
                self._shared.publish(version)
        elif self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _is_integrity_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError)

    def _is_database_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error)
