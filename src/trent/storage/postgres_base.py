"""The PostgreSQL back end: psycopg 3 and its connection pool, for several Trent nodes on one database.

Transactions run at READ COMMITTED; what SQLite gets from its single write lock comes here from
row locks the table code asks for (``Dialect.lock_rows`` on the audit chain's head,
``Dialect.skip_locked`` on background work items) and from unique constraints. Every committed
state change bumps ``state_version`` (a row lock too, so such commits are serialised), which every
node reads once per request: a change made through one node is seen by the next request on any other.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from trent.domain.errors import StorageError
from trent.storage.sql_base import Cursor, Dialect, SqlBase, migrations, statements

POSTGRESQL = Dialect(
    name="postgresql",
    lock_rows=" FOR UPDATE",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    instr="strpos",
    char="chr",
)
# pg_advisory_lock key that serialises schema migrations of nodes starting together ("trent-mg").
_MIGRATION_LOCK = 0x7472656E742D6D67


def open_pool(url: str, *, size: int = 4) -> ConnectionPool:
    """A pool of autocommit connections (transactions are begun explicitly by the store)."""
    try:
        pool = ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            kwargs={"autocommit": True, "prepare_threshold": 0},
            open=False,
            name="trent",
        )
        pool.open(wait=True, timeout=10.0)
    except (psycopg.Error, Exception) as exc:
        raise StorageError("cannot connect to the PostgreSQL database") from exc
    return pool


def migrate(pool: ConnectionPool) -> None:
    """Apply the schema files not applied yet; nodes starting together take turns."""
    with pool.connection() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS trent_schema_version (version BIGINT NOT NULL)")
            row = conn.execute("SELECT max(version) FROM trent_schema_version").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            for version, script in migrations("postgresql"):
                if version > current:
                    with conn.transaction():
                        for statement in statements(script):
                            conn.execute(statement)
                        conn.execute("INSERT INTO trent_schema_version (version) VALUES (%s)", (version,))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))


_STATE_CHANNEL = "trent_state"
# How stale a node's view may get if a notification were lost: the documented bound is 1 s.
_REFRESH_SECONDS = 0.5


class StateListener:
    """The newest ``state_version`` any node committed, pushed by NOTIFY instead of read per request.

    A connection of its own LISTENs; each committing state change notifies its new version (the
    notification is sent at commit, so it never announces a change that did not happen). While the
    connection is down, ``version`` is None and the store reads the row itself, as SQLite does.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._version: int | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trent-state-listener", daemon=True)
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait(timeout=5.0)

    @property
    def version(self) -> int | None:
        return self._version

    def stop(self) -> None:
        self._stopped.set()

    def _advance(self, newest: int) -> None:
        if self._version is None or newest > self._version:
            self._version = newest

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {_STATE_CHANNEL}")
                    row = conn.execute("SELECT version FROM state_version WHERE id = 1").fetchone()
                    self._version = int(row[0]) if row else 0
                    self._ready.set()
                    while not self._stopped.is_set():
                        for notice in conn.notifies(timeout=_REFRESH_SECONDS, stop_after=64):
                            self._advance(int(notice.payload))
                        # Also read the row now and then: a lost notification costs at most this long.
                        row = conn.execute("SELECT version FROM state_version WHERE id = 1").fetchone()
                        self._advance(int(row[0]) if row else 0)
            except (psycopg.Error, ValueError):
                self._version = None  # fall back to reading the row until the connection is back
                self._ready.set()
                self._stopped.wait(1.0)


class PostgresBase(SqlBase):
    """A connection from the pool for each transaction (or single statement outside one)."""

    dialect = POSTGRESQL

    def __init__(self, pool: ConnectionPool, *, owns_pool: bool = False, listener: StateListener | None = None) -> None:
        super().__init__()
        self._pool = pool
        self._owns_pool = owns_pool
        self._listener = listener
        self._conn: psycopg.Connection[Any] | None = None
        self._translated: dict[str, str] = {}
        self._translate_lock = threading.Lock()

    def _bump_state_version(self) -> None:
        self._raw(
            "WITH bumped AS (UPDATE state_version SET version = version + 1 WHERE id = 1 RETURNING version) "
            f"SELECT pg_notify('{_STATE_CHANNEL}', version::text) FROM bumped"
        )

    def change_token(self) -> int:
        version = None if self._listener is None else self._listener.version
        if version is None:
            return super().change_token()
        with self._lock:
            return (version << 32) | (self._local_changes & 0xFFFFFFFF)

    def _pipelined(self) -> AbstractContextManager[Any]:
        # psycopg's pipeline mode: the statements go out back to back and their results come back
        # at the end (errors too, raised there), instead of one round trip each.
        return self._conn.pipeline() if self._conn is not None else nullcontext()

    @property
    def pool(self) -> ConnectionPool:
        return self._pool

    def close(self) -> None:
        with self._lock:
            if self._listener is not None and self._owns_pool:
                self._listener.stop()
            if self._owns_pool:
                self._pool.close()

    def _translate(self, sql: str) -> str:
        found = self._translated.get(sql)
        if found is None:
            found = sql.replace("%", "%%").replace("?", "%s")
            with self._translate_lock:
                self._translated[sql] = found
        return found

    def _raw(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if self._conn is not None:
            return self._conn.execute(sql, params)
        with self._pool.connection() as conn:
            # Results are fetched client-side on execute: the cursor stays readable afterwards.
            return conn.execute(sql, params)

    def _raw_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self._conn is not None:
            with self._conn.cursor() as cursor:
                cursor.executemany(sql, rows)
            return
        with self._pool.connection() as conn, conn.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _begin(self, *, write: bool) -> None:
        conn = self._pool.getconn()
        try:
            conn.execute("BEGIN" if write else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        except BaseException:
            self._pool.putconn(conn)
            raise
        self._conn = conn

    def _end(self, *, commit: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute("COMMIT" if commit else "ROLLBACK")
        finally:
            self._pool.putconn(conn)

    def _is_integrity_error(self, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.IntegrityError)

    def _is_database_error(self, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.Error)
