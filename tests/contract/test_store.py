"""The storage port, against the SQLite adapter (PostgreSQL joins this suite later)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trent.domain.keys import Key, KeyState, Material
from trent.services.ports import Alias
from trent.storage.sqlite import SqliteStore

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _key(key_id: str, account: str = "111122223333", region: str = "us-east-1", **changes: object) -> Key:
    key = Key(
        key_id=key_id,
        account_id=account,
        region=region,
        arn=f"arn:aws:kms:{region}:{account}:key/{key_id}",
        creation_date=NOW,
        description="d",
        key_spec="SYMMETRIC_DEFAULT",
        key_usage="ENCRYPT_DECRYPT",
        origin="AWS_KMS",
        key_manager="CUSTOMER",
        state=KeyState.ENABLED,
        policy="{}",
        current_material_id="ab" * 32,
    )
    for name, value in changes.items():
        setattr(key, name, value)
    return key


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "t.db")
    yield s
    s.close()


def test_key_round_trip_with_tags(store: SqliteStore) -> None:
    store.insert_key(_key("k1", tags={"a": "1"}))
    got = store.get_key("us-east-1", "k1")
    assert got is not None
    assert got.tags == {"a": "1"}
    assert got.creation_date == NOW
    assert store.get_key("eu-west-1", "k1") is None


def test_update_and_delete(store: SqliteStore) -> None:
    store.insert_key(_key("k1"))
    store.insert_material(Material("k1", "ab" * 32, b"sealed", NOW))
    store.update_key(_key("k1", state=KeyState.PENDING_DELETION, deletion_date=NOW + timedelta(days=7)))
    assert store.keys_due_for_deletion(NOW, 10) == []
    due = store.keys_due_for_deletion(NOW + timedelta(days=8), 10)
    assert [k.key_id for k in due] == ["k1"]
    store.insert_alias(Alias("111122223333", "us-east-1", "alias/x", "k1", NOW, NOW))
    store.delete_key("us-east-1", "k1")
    assert store.get_key("us-east-1", "k1") is None
    assert store.materials("k1") == []
    assert store.get_alias("111122223333", "us-east-1", "alias/x") is None


def test_list_keys_pages_in_creation_order(store: SqliteStore) -> None:
    for i in range(7):
        store.insert_key(_key(f"k{i}"))
    store.insert_key(_key("other", account="444455556666"))
    seen, after = [], None
    while True:
        page = store.list_keys("111122223333", "us-east-1", after, 3)
        seen += [k.key_id for k in page.items]
        if page.next_position is None:
            break
        after = page.next_position
    assert seen == [f"k{i}" for i in range(7)]


def test_alias_names_are_unique_per_account_and_region(store: SqliteStore) -> None:
    a = Alias("111122223333", "us-east-1", "alias/x", "k1", NOW, NOW)
    assert store.insert_alias(a)
    assert not store.insert_alias(a)
    assert store.insert_alias(Alias("111122223333", "eu-west-1", "alias/x", "k1", NOW, NOW))
    assert store.insert_alias(Alias("444455556666", "us-east-1", "alias/x", "k1", NOW, NOW))


def test_concurrent_alias_creation_has_one_winner(tmp_path: Path) -> None:
    stores = [SqliteStore(tmp_path / "c.db") for _ in range(4)]
    results: list[bool] = []
    lock = threading.Lock()

    def create(s: SqliteStore) -> None:
        ok = s.insert_alias(Alias("111122223333", "us-east-1", "alias/race", "k", NOW, NOW))
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=create, args=(s,)) for s in stores for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert len(results) == 20
    for s in stores:
        s.close()


def test_tags_put_overwrite_remove(store: SqliteStore) -> None:
    store.insert_key(_key("k1"))
    store.put_tags("us-east-1", "k1", {"a": "1", "b": "2"})
    store.put_tags("us-east-1", "k1", {"a": "9"})
    store.remove_tags("us-east-1", "k1", ["b", "absent"])
    assert store.list_tags("us-east-1", "k1") == {"a": "9"}


def test_change_token_sees_other_connections(tmp_path: Path) -> None:
    a = SqliteStore(tmp_path / "s.db")
    b = SqliteStore(tmp_path / "s.db")
    before = a.change_token()
    b.insert_key(_key("k1"))
    assert a.change_token() != before
    before = a.change_token()
    a.insert_key(_key("k2"))
    assert a.change_token() != before
    a.close()
    b.close()


def test_failed_transaction_leaves_nothing(store: SqliteStore) -> None:
    with pytest.raises(sqlite3.IntegrityError), store.transaction():  # noqa: PT012 - the whole unit fails
        store.insert_key(_key("k1"))
        store.insert_key(_key("k1"))
    assert store.get_key("us-east-1", "k1") is None


def test_reopening_keeps_data_and_schema(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "r.db")
    s.insert_key(_key("k1"))
    s.close()
    s = SqliteStore(tmp_path / "r.db")
    assert s.get_key("us-east-1", "k1") is not None
    s.close()
