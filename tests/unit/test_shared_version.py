"""SQLite's change token comes from a memory-mapped mirror of state_version shared by every process."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path

from tests.builders import symmetric_key
from trent.storage.sqlite import SqliteStore
from trent.storage.sqlite_base import SharedVersion


def _insert_in_child(path: str, key_id: str) -> None:
    SqliteStore(Path(path), migrate=False).insert_key(symmetric_key(key_id))


def test_a_commit_in_another_process_moves_the_token(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = SqliteStore(path)
    before = store.change_token()
    child = multiprocessing.get_context("spawn").Process(target=_insert_in_child, args=(str(path), "k1"))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert store.change_token() != before  # at once, not after the periodic re-read


def test_audit_appends_and_reads_do_not_publish(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = SqliteStore(path)
    shared = SharedVersion(path.with_name("t.db-version"))
    before = shared.read()
    store.get_key("us-east-1", "absent")
    assert shared.read() == before
    store.insert_key(symmetric_key("k1"))
    assert shared.read() == before + 1


def test_a_commit_that_never_published_is_seen_within_the_reconcile_period(tmp_path: Path) -> None:
    # A process killed between its COMMIT and its publish: the row moved, the mirror did not.
    path = tmp_path / "t.db"
    store = SqliteStore(path)
    before = store.change_token()
    db = sqlite3.connect(path)
    db.execute("UPDATE state_version SET version = version + 1 WHERE id = 1")
    db.commit()
    db.close()
    deadline = time.monotonic() + 2.0
    while store.change_token() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.change_token() != before


def test_a_restored_older_database_resets_the_mirror(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    SqliteStore(path).close()
    mirror = path.with_name("t.db-version")
    SharedVersion(mirror).publish(1_000)  # the mirror of a newer database that was replaced
    store = SqliteStore(path)
    shared = SharedVersion(mirror)
    assert shared.read() < 1_000
    other = SqliteStore(path, migrate=False)
    before = other.change_token()
    store.insert_key(symmetric_key("k1"))
    assert other.change_token() != before


def test_publishing_never_lowers_the_value(tmp_path: Path) -> None:
    shared = SharedVersion(tmp_path / "v")
    shared.publish(7)
    shared.publish(6)  # a slower writer's older commit
    assert shared.read() == 7
