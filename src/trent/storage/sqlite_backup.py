"""Backups of the embedded store: consistent copies made with SQLite's online backup API.

A backup is one self-contained SQLite file (rollback-journal mode, no ``-wal`` beside it), copied in
one step of ``sqlite3_backup`` and so inside one read transaction: the snapshot of the last commit
before it, made while a server keeps writing (WAL readers do not block the writer). What it holds
is what the database holds, key material and secrets sealed under the root key; the root key itself
is not in it. Its ``root_check`` row lets a restore prove, before it replaces anything, that the
target's ``root.key`` is the one the backup's material is sealed under.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

from trent.domain.errors import StorageError

# SQLite's own files beside a database, which move with it.
_COMPANIONS = ("-wal", "-shm")
REPLACED_SUFFIX = ".replaced"  # restore --force keeps the database it replaces as trent.db.replaced


@dataclass(frozen=True)
class BackupInfo:
    """What a backup file (or a restored database) holds."""

    path: Path
    size: int
    schema_version: int
    keys: int
    audit_records: int
    root_check: bytes | None


def backup(database: Path, target: Path) -> BackupInfo:
    """Copy ``database`` (in use or not) to ``target``, mode 0600, replacing it only when complete."""
    if not database.is_file():
        raise StorageError(f"no database at {database}")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        # Read only: a backup never writes to the database it copies.
        with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)) as source:
            _copy(source, partial)
        info = inspect(partial)
        _publish(partial, target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"the backup of {database} failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupInfo(target, info.size, info.schema_version, info.keys, info.audit_records, info.root_check)


def inspect(path: Path) -> BackupInfo:
    """Check that ``path`` is a whole Trent database and say what it holds (reads only)."""
    if not path.is_file():
        raise StorageError(f"no backup file at {path}")
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            if db.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise StorageError(f"{path} is damaged (SQLite's quick_check failed)")
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"keys", "audit_events", "root_check"} <= tables:
                raise StorageError(f"{path} is not a Trent database")
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            keys = int(db.execute("SELECT count(*) FROM keys").fetchone()[0])
            records = int(db.execute("SELECT count(*) FROM audit_events").fetchone()[0])
            row = db.execute("SELECT sealed FROM root_check WHERE id = 1").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"{path} is not a SQLite database Trent can read ({exc})") from exc
    return BackupInfo(path, path.stat().st_size, version, keys, records, None if row is None else bytes(row[0]))


def in_use(database: Path) -> bool:
    """Whether another connection has the database open (a server, an admin command).

    Every connection to a WAL database holds a shared lock on it while it is open; an exclusive
    lock is granted only when there is none. Taking it also folds the WAL back into the file.
    """
    try:
        with closing(sqlite3.connect(database, isolation_level=None, timeout=0)) as db:
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("BEGIN EXCLUSIVE")
            db.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    except sqlite3.DatabaseError:
        return False  # not a database any more (damaged): nobody can be using it
    return False


def restore(backup_file: Path, database: Path, *, replace: bool) -> BackupInfo:
    """Put a copy of ``backup_file`` in place as ``database``.

    An existing database is refused unless ``replace``; then it is kept, with its WAL, as
    ``<database>.replaced``. The caller has checked the backup against the root key and that no
    process has the database open.
    """
    if database.exists() and not replace:
        raise StorageError(f"{database} exists")
    partial = database.with_name(f".{database.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(f"{backup_file.resolve().as_uri()}?mode=ro", uri=True)) as source:
            _copy(source, partial)
        if database.exists():
            kept = database.with_name(database.name + REPLACED_SUFFIX)
            for suffix in ("", *_COMPANIONS):
                with suppress(FileNotFoundError):
                    Path(f"{database}{suffix}").replace(f"{kept}{suffix}")
        else:
            for suffix in _COMPANIONS:  # left by a database removed without its companions
                Path(f"{database}{suffix}").unlink(missing_ok=True)
        _publish(partial, database)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"the restore of {backup_file} failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return inspect(database)


def _copy(source: sqlite3.Connection, target: Path) -> None:
    """The whole database in one backup step (one read transaction), as a rollback-journal file."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    with closing(sqlite3.connect(target, isolation_level=None)) as copy:
        source.backup(copy, pages=-1)
        # The copy has the source's header, WAL mode included; a backup is one file on its own.
        copy.execute("PRAGMA journal_mode=DELETE")


def _publish(partial: Path, target: Path) -> None:
    """fsync, then rename into place and fsync the directory: the target is old or whole."""
    fd = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    partial.replace(target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
