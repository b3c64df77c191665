"""What the store's parts share whatever the database: transactions, the change token, statements.

The table code (keys, grants, IAM, audit) is written once in the SQL both SQLite and PostgreSQL
accept, with ``?`` placeholders; a back end (``SqliteBase``, ``PostgresBase``) supplies the
connection, the few dialect differences (``Dialect``) and the migrations.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Protocol

from trent.domain.errors import StorageError

# Statements that change state; audit appends go through _execute_untracked and are not counted.
_STATE_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLAC"})


def ts(value: datetime) -> float:
    return value.timestamp()


def dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def migrations(dialect_name: str) -> list[tuple[int, str]]:
    """(version, script) of one back end's migration files, in order."""
    folder = resources.files("trent.storage.migrations").joinpath(dialect_name)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def statements(script: str) -> list[str]:
    # Comments may hold semicolons; drop them before splitting into statements.
    code = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [statement for statement in code.split(";") if statement.strip()]


@dataclass(frozen=True, slots=True)
class Dialect:
    """The SQL that differs between the back ends, as fragments the table code splices in."""

    name: str
    lock_rows: str  # appended to a SELECT whose rows the transaction will change
    skip_locked: str  # appended to a SELECT of work items other nodes may be taking
    instr: str  # position of a substring: instr / strpos
    char: str  # a character by code: char / chr


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class SqlBase(ABC):
    """One database, one connection at a time per store object, guarded by a lock.

    uvicorn runs requests on one thread; the lock protects the background tasks. Other processes
    and nodes see state changes through the ``state_version`` row, which every committed state
    change bumps and ``change_token`` reads, so their caches stay honest.
    """

    dialect: Dialect

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._dirty = False  # the open transaction changed state (audit appends do not count)
        self._local_changes = 0

    # ----------------------------------------------------------------- back-end primitives

    @abstractmethod
    def _raw(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement as written for this back end."""

    @abstractmethod
    def _raw_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    def _begin(self, *, write: bool) -> None:
        """Start a transaction: a write transaction, or a read-only snapshot."""

    @abstractmethod
    def _end(self, *, commit: bool) -> None:
        """Commit or roll back the open transaction (and give its connection back)."""

    @abstractmethod
    def _is_integrity_error(self, exc: BaseException) -> bool: ...

    @abstractmethod
    def _is_database_error(self, exc: BaseException) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...

    def _translate(self, sql: str) -> str:
        """The statement in this back end's placeholder style."""
        return sql

    def _bump_state_version(self) -> None:
        """Inside a committing transaction that changed state: tell every process (and node)."""
        self._raw(self._translate("UPDATE state_version SET version = version + 1 WHERE id = 1"))

    # ----------------------------------------------------------------- transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._guarded(lambda: self._begin(write=True))
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    self._dirty = False
                    # Anything cached while the transaction was open may reflect rolled-back writes.
                    self._local_changes += 1
                    self._end(commit=False)
                raise
            self._depth -= 1
            if outermost:
                try:
                    changed = self._dirty
                    if changed:
                        self._bump_state_version()
                    self._guarded(lambda: self._end(commit=True))
                    if changed:
                        # This process's caches must not wait for the new version to be read back.
                        self._local_changes += 1
                except BaseException:
                    self._local_changes += 1
                    self._end(commit=False)
                    raise
                finally:
                    self._dirty = False

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Reads inside see one committed state: other processes' later commits stay invisible.

        Takes no write lock, so writers are not held back. Inside a transaction already open, it is
        that transaction.
        """
        with self._lock:
            if self._depth:
                yield
                return
            self._guarded(lambda: self._begin(write=False))
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                self._dirty = False
                self._end(commit=False)

    def _pipelined(self) -> AbstractContextManager[Any]:
        """Statements inside whose results nobody reads may go to the database together."""
        return nullcontext()

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    # ----------------------------------------------------------------- statements

    def _guarded(self, run: Any) -> Any:
        try:
            return run()
        except Exception as exc:
            if self._is_database_error(exc) and not self._is_integrity_error(exc):
                raise StorageError("the database rejected an operation") from exc
            raise

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if sql[:6] not in _STATE_WRITES:
            return self._execute_untracked(sql, params)
        if not self._depth:  # an autocommitted write would not move state_version
            raise StorageError("state written outside a transaction")
        cursor = self._execute_untracked(sql, params)
        # A write that changed no row (a sweep finding nothing) must not empty every node's caches.
        if cursor.rowcount != 0:
            self._dirty = True
        return cursor

    def _execute_untracked(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """A statement that does not count as a state change (audit appends, their side tables)."""
        translated = self._translate(sql)
        return self._guarded(lambda: self._raw(translated, params))  # type: ignore[no-any-return]

    def _executemany_untracked(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        translated = self._translate(sql)
        self._guarded(lambda: self._raw_many(translated, rows))

    def _write(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        with self.transaction():
            return self._execute(sql, params)

    def _insert_unique(self, sql: str, params: Sequence[Any]) -> bool:
        """An ``INSERT ... ON CONFLICT DO NOTHING``: False when the row already existed.

        ON CONFLICT rather than catching the violation: on PostgreSQL a failed statement would
        abort the whole enclosing transaction.
        """
        return self._write(sql, params).rowcount > 0

    def change_token(self) -> int:
        # state_version moves with every state change by any process, but not with audit appends:
        # audit records are written for every request and must not empty the caches.
        with self._lock:
            version = int(self._execute("SELECT version FROM state_version WHERE id = 1").fetchone()[0])
            return (version << 32) | (self._local_changes & 0xFFFFFFFF)
