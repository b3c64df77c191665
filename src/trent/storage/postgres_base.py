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


class PostgresBase(SqlBase):
    """A connection from the pool for each transaction (or single statement outside one)."""

    dialect = POSTGRESQL

    def __init__(self, pool: ConnectionPool, *, owns_pool: bool = False) -> None:
        super().__init__()
        self._pool = pool
        self._owns_pool = owns_pool
        self._conn: psycopg.Connection[Any] | None = None
        self._translated: dict[str, str] = {}
        self._translate_lock = threading.Lock()

    @property
    def pool(self) -> ConnectionPool:
        return self._pool

    def close(self) -> None:
        with self._lock:
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
