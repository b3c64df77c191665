"""A serving process checkpoints SQLite's WAL from a thread, not inside a request's commit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from trent.storage.sqlite import SqliteStore
from trent.storage.sqlite_base import WalCheckpointer


def test_request_connections_leave_checkpoints_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = SqliteStore(path, background_checkpoints=True)
    pages = store._raw("PRAGMA wal_autocheckpoint").fetchone()[0]
    assert pages >= 10_000
    admin = SqliteStore(path)  # admin commands keep SQLite's default
    assert admin._raw("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000


def test_a_checkpoint_copies_the_whole_wal_back(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = SqliteStore(path, background_checkpoints=True)
    with store.transaction():
        store._execute_untracked("CREATE TABLE filler (blob BLOB)")
    for _ in range(50):
        with store.transaction():
            store._execute_untracked("INSERT INTO filler VALUES (randomblob(8000))")
    wal = path.with_name("t.db-wal")
    assert wal.stat().st_size > 50 * 8000  # nothing was copied back by the commits themselves
    before = path.stat().st_size
    WalCheckpointer(path).checkpoint()
    assert path.stat().st_size >= before + 50 * 8000  # the rows are in the database file now
    db = sqlite3.connect(path)
    busy, log, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    db.close()
    assert busy == 0
    assert log == copied
