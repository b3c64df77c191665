"""The storage port, against both back ends: the SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.builders import symmetric_key
from tests.conftest import drop_postgres_schema, fresh_postgres_schema, require_postgres
from trent.domain.audit import AuditEvent, AuditResource, verify_trail
from trent.domain.errors import AuditWriteError
from trent.domain.keys import Key, KeyState, Material
from trent.services.ports import Alias
from trent.storage.audit_tables import StoreAuditWriter
from trent.storage.postgres import PostgresStore
from trent.storage.sqlite import SqliteStore

Store = SqliteStore | PostgresStore


class Backend:
    """One empty database of one kind; ``open`` gives as many store objects on it as a test needs."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self._path = tmp_path / "t.db"
        self._url = fresh_postgres_schema() if kind == "postgresql" else ""
        self._opened: list[Store] = []
        self.integrity_error: type[Exception] = (
            psycopg.IntegrityError if kind == "postgresql" else sqlite3.IntegrityError
        )

    def open(self) -> Store:
        store: Store = PostgresStore.connect(self._url) if self._url else SqliteStore(self._path)
        self._opened.append(store)
        return store

    def writer(self) -> StoreAuditWriter:
        return StoreAuditWriter(self.open())

    def admin_sql(self, *statements: str) -> None:
        """Run statements behind the store's back (to make the database refuse writes)."""
        if self._url:
            with psycopg.connect(self._url, autocommit=True) as conn:
                for statement in statements:
                    conn.execute(statement)  # type: ignore[arg-type]
            return
        db = sqlite3.connect(self._path)
        for statement in statements:
            db.execute(statement)
        db.commit()
        db.close()

    def refuse_audit_appends(self) -> None:
        if self._url:
            self.admin_sql(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'read-only'; END $$ "
                "LANGUAGE plpgsql",
                "CREATE TRIGGER ro BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse()",
            )
        else:
            self.admin_sql("CREATE TRIGGER ro BEFORE INSERT ON audit_events BEGIN SELECT RAISE(FAIL, 'read-only'); END")

    def accept_audit_appends(self) -> None:
        self.admin_sql("DROP TRIGGER ro ON audit_events" if self._url else "DROP TRIGGER ro")

    def close(self) -> None:
        for store in self._opened:
            store.close()
        if self._url:
            drop_postgres_schema(self._url)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "postgresql":
        require_postgres()
    b = Backend(request.param, tmp_path)
    yield b
    b.close()


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _key(key_id: str, account: str = "111122223333", region: str = "us-east-1", **changes: object) -> Key:
    defaults: dict[str, object] = {"creation_date": NOW, "description": "d", "current_material_id": "ab" * 32}
    return symmetric_key(key_id, account, region, **{**defaults, **changes})


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


def test_key_round_trip_with_tags(store: Store) -> None:
    store.insert_key(_key("k1", tags={"a": "1"}))
    got = store.get_key("us-east-1", "k1")
    assert got is not None
    assert got.tags == {"a": "1"}
    assert got.creation_date == NOW
    assert store.get_key("eu-west-1", "k1") is None


def test_update_and_delete(store: Store) -> None:
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


def test_list_keys_pages_in_creation_order(store: Store) -> None:
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


def test_alias_names_are_unique_per_account_and_region(store: Store) -> None:
    a = Alias("111122223333", "us-east-1", "alias/x", "k1", NOW, NOW)
    assert store.insert_alias(a)
    assert not store.insert_alias(a)
    assert store.insert_alias(Alias("111122223333", "eu-west-1", "alias/x", "k1", NOW, NOW))
    assert store.insert_alias(Alias("444455556666", "us-east-1", "alias/x", "k1", NOW, NOW))


def test_concurrent_alias_creation_has_one_winner(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)]
    results: list[bool] = []
    lock = threading.Lock()

    def create(s: Store) -> None:
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


def test_tags_put_overwrite_remove(store: Store) -> None:
    store.insert_key(_key("k1"))
    store.put_tags("us-east-1", "k1", {"a": "1", "b": "2"})
    store.put_tags("us-east-1", "k1", {"a": "9"})
    store.remove_tags("us-east-1", "k1", ["b", "absent"])
    assert store.list_tags("us-east-1", "k1") == {"a": "9"}


def test_change_token_sees_other_connections(backend: Backend) -> None:
    a, b = backend.open(), backend.open()
    before = a.change_token()
    b.insert_key(_key("k1"))
    assert a.change_token() != before
    before = a.change_token()
    a.insert_key(_key("k2"))
    assert a.change_token() != before


def test_failed_transaction_leaves_nothing(backend: Backend, store: Store) -> None:
    with pytest.raises(backend.integrity_error), store.transaction():  # noqa: PT012 - the whole unit fails
        store.insert_key(_key("k1"))
        store.insert_key(_key("k1"))
    assert store.get_key("us-east-1", "k1") is None


def test_reopening_keeps_data_and_schema(backend: Backend) -> None:
    s = backend.open()
    s.insert_key(_key("k1"))
    s.close()
    assert backend.open().get_key("us-east-1", "k1") is not None


# ----------------------------------------------------------------- audit trail


def _event(n: int, region: str = "us-east-1") -> AuditEvent:
    return AuditEvent(
        record={"eventName": "Encrypt", "n": n},
        event_id=f"e{n}",
        event_time=NOW + timedelta(seconds=n),
        event_name="Encrypt",
        event_source="kms.amazonaws.com",
        read_only=True,
        region=region,
        account_id="111122223333",
        username="root",
        access_key_id="AKIA",
        resources=(AuditResource("AWS::KMS::Key", f"arn:key/{n % 3}"),),
    )


def test_audit_appends_leave_the_change_token_alone(backend: Backend) -> None:
    # Audit records are written for every request; if they moved the token, every request would
    # empty the caches of every process.
    store = backend.open()
    writer = backend.writer()
    before = store.change_token()
    store.append_audit([_event(1)])
    writer.append([_event(2), _event(3)])
    assert store.change_token() == before
    store.put_tags("us-east-1", "k", {"a": "b"})
    assert store.change_token() != before


def test_rollback_moves_the_change_token(store: Store) -> None:
    # A cache filled inside a rolled-back transaction may hold writes that never happened.
    before = store.change_token()
    with pytest.raises(RuntimeError), store.transaction():  # noqa: PT012 - the whole unit fails
        store.insert_key(_key("k1"))
        raise RuntimeError
    assert store.change_token() != before
    assert store.get_key("us-east-1", "k1") is None


def test_appends_from_two_connections_form_one_chain(backend: Backend) -> None:
    store = backend.open()
    writer = backend.writer()
    threads = [
        threading.Thread(target=lambda base=base: [writer.append([_event(base + i)]) for i in range(50)])
        for base in (0, 1000)
    ]
    for thread in threads:
        thread.start()
    for i in range(50):
        with store.transaction():
            store.insert_key(_key(f"k{i}"))
            store.append_audit([_event(5000 + i)])
    for thread in threads:
        thread.join()
    report = verify_trail(store.audit_events(batch=7), [], {}, store.audit_head())
    assert report.intact, report.issues
    assert report.records == 150


def test_lookup_filters_newest_first(store: Store) -> None:
    store.append_audit([_event(n) for n in range(1, 11)] + [_event(11, region="eu-west-1")])
    rows = store.lookup_audit_events("us-east-1", None, None, None, None, 3)
    assert [sequence for sequence, _ in rows] == [10, 9, 8]
    rows = store.lookup_audit_events("us-east-1", ("ResourceName", "arn:key/1"), None, None, None, 50)
    assert [sequence for sequence, _ in rows] == [10, 7, 4, 1]
    rows = store.lookup_audit_events("us-east-1", ("EventId", "e5"), None, None, None, 50)
    assert [sequence for sequence, _ in rows] == [5]
    rows = store.lookup_audit_events("us-east-1", None, NOW + timedelta(seconds=3), NOW + timedelta(seconds=4), 4, 50)
    assert [sequence for sequence, _ in rows] == [3]
    assert store.lookup_audit_events("eu-west-1", ("ReadOnly", "true"), None, None, None, 50)[0][0] == 11
    assert store.lookup_audit_events("eu-west-1", ("ReadOnly", "false"), None, None, None, 50) == []


def test_a_failed_audit_append_rolls_back_the_change(backend: Backend) -> None:
    store = backend.open()
    backend.refuse_audit_appends()
    with pytest.raises(AuditWriteError), store.transaction():  # noqa: PT012 - the whole unit fails
        store.insert_key(_key("k1"))
        store.append_audit([_event(1)])
    assert store.get_key("us-east-1", "k1") is None
    writer = backend.writer()
    with pytest.raises(AuditWriteError):
        writer.append([_event(2)])
    backend.accept_audit_appends()
    writer.append([_event(3)])
    assert store.audit_head() is not None
    assert store.audit_head()[0] == 1  # type: ignore[index]


def test_a_read_snapshot_does_not_see_later_appends(backend: Backend) -> None:
    reader, writer = backend.open(), backend.open()
    writer.append_audit([_event(n) for n in range(1, 4)])
    with reader.read_snapshot():
        head = reader.audit_head()
        writer.append_audit([_event(4)])  # committed by another connection while the snapshot is open
        sequences = [event.sequence for event in reader.audit_events(batch=2)]
        assert head is not None
        assert head[0] == 3
        assert sequences == [1, 2, 3]
    assert [event.sequence for event in reader.audit_events()] == [1, 2, 3, 4]


def test_state_changes_are_pushed_to_listening_postgresql_nodes() -> None:
    require_postgres()
    url = fresh_postgres_schema()
    listening = PostgresStore.connect(url, listen=True)
    other = PostgresStore.connect(url)
    try:
        listener = listening._listener  # the mechanism under test
        assert listener is not None
        deadline = time.monotonic() + 5
        while listener.version is None and time.monotonic() < deadline:
            time.sleep(0.01)
        before_version, before_token = listener.version, listening.change_token()
        assert before_version is not None
        other.insert_key(_key("pushed"))  # committed by another node
        deadline = time.monotonic() + 1.0  # the documented bound
        while listener.version == before_version and time.monotonic() < deadline:
            time.sleep(0.005)
        assert listener.version == before_version + 1
        assert listening.change_token() != before_token
        before_token = listening.change_token()
        listening.put_tags("us-east-1", "pushed", {"a": "b"})  # its own change: seen at once
        assert listening.change_token() != before_token
    finally:
        listening.close()
        other.close()
        drop_postgres_schema(url)


def test_console_sessions_are_shared_expire_and_never_move_the_change_token(backend: Backend) -> None:
    from trent.domain.console_sessions import ConsoleSessionRecord

    a, b = backend.open(), backend.open()
    before = b.change_token()
    a.insert_console_session(ConsoleSessionRecord("h1", "AKIA1", "us-east-1", False, NOW, NOW, None))
    a.insert_console_session(
        ConsoleSessionRecord("h2", "AKIA2", "eu-west-1", True, NOW, NOW - timedelta(hours=1), "hello")
    )
    got = b.console_session("h1")  # another connection (another worker, another node) sees it
    assert got == ConsoleSessionRecord("h1", "AKIA1", "us-east-1", False, NOW, NOW, None)
    b.update_console_session("h1", region="ap-south-1", flash="Key disabled.", last_seen=NOW + timedelta(seconds=5))
    got = a.console_session("h1")
    assert got is not None
    assert (got.region, got.flash, got.last_seen) == ("ap-south-1", "Key disabled.", NOW + timedelta(seconds=5))
    assert a.delete_console_sessions_idle_since(NOW - timedelta(minutes=15)) == 1
    assert b.console_session("h2") is None
    b.delete_console_session("h1")
    assert a.console_session("h1") is None
    # Sessions are not KMS state: other processes' caches must not be emptied by a page view.
    assert b.change_token() == before


def test_failed_sign_ins_are_shared_pruned_and_never_move_the_change_token(backend: Backend) -> None:
    a, b = backend.open(), backend.open()
    before = b.change_token()
    a.record_sign_in_failure(["ip:10.0.0.1", "key:AKIA1"], NOW, NOW - timedelta(minutes=5))
    a.record_sign_in_failure(["ip:10.0.0.2", "key:AKIA1"], NOW + timedelta(seconds=1), NOW - timedelta(minutes=5))
    assert b.recent_sign_in_failures("key:AKIA1", NOW - timedelta(minutes=5), 10) == [
        NOW + timedelta(seconds=1),
        NOW,
    ]
    assert b.recent_sign_in_failures("key:AKIA1", NOW - timedelta(minutes=5), 1) == [NOW + timedelta(seconds=1)]
    b.clear_sign_in_failures("key:AKIA1")
    assert a.recent_sign_in_failures("key:AKIA1", NOW - timedelta(minutes=5), 10) == []
    assert a.recent_sign_in_failures("ip:10.0.0.1", NOW - timedelta(minutes=5), 10) == [NOW]
    later = NOW + timedelta(hours=1)
    b.record_sign_in_failure(["ip:10.0.0.3"], later, later - timedelta(minutes=5))
    assert a.recent_sign_in_failures("ip:10.0.0.1", NOW - timedelta(days=1), 10) == []  # pruned
    assert b.change_token() == before
