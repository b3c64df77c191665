"""The audit chain and its digests, tampered with in SQLite every way an attacker with the file could.

Each test builds a real data directory (``trent.bootstrap.build``), appends records through the
store, signs digests through ``AuditService`` and then edits the database with ``sqlite3`` directly.
``verify`` must name the first bad position and what happened there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trent.bootstrap import Components, build
from trent.config import settings_from_env
from trent.domain.audit import AuditEvent, AuditResource, ChainIssue, VerifyReport, chain_hash

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _event(n: int) -> AuditEvent:
    return AuditEvent(
        record={"eventName": "Encrypt", "n": n},
        event_id=f"e{n}",
        event_time=NOW + timedelta(seconds=n),
        event_name="Encrypt",
        event_source="kms.amazonaws.com",
        read_only=True,
        region="us-east-1",
        account_id="111122223333",
        username="root",
        access_key_id="AKIAEXAMPLE",
        resources=(AuditResource("AWS::KMS::Key", f"arn:aws:kms:us-east-1:111122223333:key/k{n % 3}"),),
    )


class Trail:
    """A data directory's trail, with raw SQLite access for tampering."""

    def __init__(self, components: Components) -> None:
        self.components = components
        self.appended = 0

    def append(self, count: int, batch: int = 1000) -> None:
        for start in range(self.appended + 1, self.appended + count + 1, batch):
            end = min(start + batch, self.appended + count + 1)
            self.components.store.append_audit([_event(n) for n in range(start, end)])
        self.appended += count

    def digest(self) -> int:
        digest = self.components.audit.write_digest()
        assert digest is not None
        return digest.sequence

    def sql(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        db = sqlite3.connect(self.components.settings.database_path, isolation_level=None)
        try:
            return db.execute(statement, params).fetchall()
        finally:
            db.close()

    def row(self, sequence: int) -> tuple[bytes, bytes]:
        rows = self.sql("SELECT record, chain_hash FROM audit_events WHERE sequence = ?", (sequence,))
        record, hashed = rows[0]
        assert isinstance(record, bytes)
        assert isinstance(hashed, bytes)
        return record, hashed

    def verify(self) -> VerifyReport:
        return self.components.audit.verify()

    def first_issue(self) -> ChainIssue:
        report = self.verify()
        assert not report.intact
        issue = report.first_issue
        assert issue is not None
        return issue


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Trail]:
    components = build(settings_from_env({}, data_dir=tmp_path / "data"))
    yield Trail(components)
    components.store.close()


@pytest.fixture
def signed(trail: Trail) -> Trail:
    """60 records, the first 50 under digest 1."""
    trail.append(50)
    trail.digest()
    trail.append(10)
    return trail


def test_an_untouched_trail_is_intact(signed: Trail) -> None:
    report = signed.verify()
    assert report.intact, report.issues
    assert (report.records, report.digests) == (60, 1)


def test_an_empty_trail_is_intact(trail: Trail) -> None:
    report = trail.verify()
    assert report.intact
    assert (report.records, report.digests) == (0, 0)
    assert trail.components.audit.write_digest() is None


def test_one_flipped_byte_is_an_altered_record(signed: Trail) -> None:
    record, _ = signed.row(20)
    forged = bytearray(record)
    forged[len(forged) // 2] ^= 0x01
    signed.sql("UPDATE audit_events SET record = ? WHERE sequence = 20", (bytes(forged),))
    issue = signed.first_issue()
    assert (issue.position, issue.kind) == (20, "altered")


def test_a_deleted_row_is_named(signed: Trail) -> None:
    signed.sql("DELETE FROM audit_events WHERE sequence = 20")
    issue = signed.first_issue()
    assert (issue.position, issue.kind) == (20, "deleted")


def test_a_deleted_row_with_the_rest_renumbered_is_found_where_it_was(signed: Trail) -> None:
    signed.sql("DELETE FROM audit_events WHERE sequence = 20")
    # Two steps, so that no intermediate sequence collides with the primary key.
    signed.sql("UPDATE audit_events SET sequence = -(sequence - 1) WHERE sequence > 20")
    signed.sql("UPDATE audit_events SET sequence = -sequence WHERE sequence < 0")
    _, last_hash = signed.row(59)
    signed.sql("UPDATE audit_head SET sequence = 59, chain_hash = ? WHERE id = 1", (last_hash,))
    issue = signed.first_issue()
    assert (issue.position, issue.kind) == (20, "inserted-or-deleted")


def _insert(trail: Trail, sequence: int, record: bytes, hashed: bytes) -> None:
    trail.sql(
        "INSERT INTO audit_events (sequence, event_id, event_time, event_name, event_source, read_only, region, "
        "account_id, username, access_key_id, resources, record, chain_hash) "
        "VALUES (?, 'forged', 0, 'Decrypt', 'kms.amazonaws.com', 1, 'us-east-1', '111122223333', NULL, NULL, '', ?, ?)",
        (sequence, record, hashed),
    )


def test_a_forged_row_chained_after_the_head_is_found(signed: Trail) -> None:
    # The forger even computes a correct chain hash; the head row still says where Trent stopped.
    _, previous = signed.row(60)
    record = b'{"eventName":"Decrypt","n":61}'
    _insert(signed, 61, record, chain_hash(previous, 61, record))
    issue = signed.first_issue()
    assert (issue.position, issue.kind) == (61, "inserted-or-deleted")


def test_a_forged_row_inserted_in_the_middle_is_found_at_its_position(signed: Trail) -> None:
    signed.sql("UPDATE audit_events SET sequence = -(sequence + 1) WHERE sequence >= 30")
    signed.sql("UPDATE audit_events SET sequence = -sequence WHERE sequence < 0")
    _insert(signed, 30, b'{"eventName":"Decrypt","n":0}', bytes(32))
    issue = signed.first_issue()
    # The genuine record 30 now sits at 31 and chains from 29: it is recognised as belonging at 30.
    assert (issue.position, issue.kind) == (30, "reordered")


def test_a_forgery_rechained_to_the_end_is_caught_by_the_digest(signed: Trail) -> None:
    # Everything an attacker with the database can do: change record 10, recompute every chain
    # hash after it and the head. Only the signed digest over 1..50 still tells.
    record, _ = signed.row(10)
    signed.sql("UPDATE audit_events SET record = ? WHERE sequence = 10", (record.replace(b"Encrypt", b"Decrypt"),))
    previous = signed.row(9)[1]
    for sequence in range(10, 61):
        record, _ = signed.row(sequence)
        previous = chain_hash(previous, sequence, record)
        signed.sql("UPDATE audit_events SET chain_hash = ? WHERE sequence = ?", (previous, sequence))
    signed.sql("UPDATE audit_head SET chain_hash = ? WHERE id = 1", (previous,))
    issue = signed.first_issue()
    assert (issue.position, issue.kind) == (1, "altered")
    assert "digest 1" in issue.detail


def test_two_swapped_rows_are_reported_at_the_first(signed: Trail) -> None:
    columns = "event_id, event_time, event_name, event_source, read_only, region, account_id, username, " + (
        "access_key_id, resources, record, chain_hash"
    )
    first = signed.sql(f"SELECT {columns} FROM audit_events WHERE sequence = 30")[0]  # noqa: S608 - constant
    second = signed.sql(f"SELECT {columns} FROM audit_events WHERE sequence = 31")[0]  # noqa: S608 - constant
    assignments = ", ".join(f"{name.strip()} = ?" for name in columns.split(","))
    signed.sql(f"UPDATE audit_events SET {assignments} WHERE sequence = 30", second)  # noqa: S608 - constant
    signed.sql(f"UPDATE audit_events SET {assignments} WHERE sequence = 31", first)  # noqa: S608 - constant
    issue = signed.first_issue()
    assert (issue.position, issue.kind) == (30, "reordered")


def test_a_cut_tail_is_truncated(signed: Trail) -> None:
    signed.sql("DELETE FROM audit_events WHERE sequence > 55")
    issue = signed.first_issue()
    assert (issue.position, issue.kind) == (56, "truncated")


def test_a_cut_tail_with_the_head_fixed_up_is_found_through_the_digest(signed: Trail) -> None:
    signed.sql("DELETE FROM audit_events WHERE sequence > 40")
    _, hashed = signed.row(40)
    signed.sql("UPDATE audit_head SET sequence = 40, chain_hash = ? WHERE id = 1", (hashed,))
    issue = signed.first_issue()
    assert (issue.position, issue.kind) == (41, "truncated")
    assert "50" in issue.detail  # the digest signed 50 records


def test_a_forged_digest_signature_is_a_digest_issue(signed: Trail) -> None:
    signature = signed.sql("SELECT signature FROM audit_digests WHERE sequence = 1")[0][0]
    assert isinstance(signature, bytes)
    forged = bytes([signature[0] ^ 0x01]) + signature[1:]
    signed.sql("UPDATE audit_digests SET signature = ? WHERE sequence = 1", (forged,))
    issue = signed.first_issue()
    assert (issue.position, issue.kind) == (1, "digest")
    assert "signature" in issue.detail


def test_a_digest_removed_from_the_middle_is_a_digest_issue(signed: Trail) -> None:
    signed.digest()  # 2: 51..60
    signed.append(15)
    signed.digest()  # 3: 61..75
    assert signed.verify().intact
    signed.sql("DELETE FROM audit_digests WHERE sequence = 2")
    issue = signed.first_issue()
    assert (issue.position, issue.kind) == (61, "digest")
    assert "removed" in issue.detail


def test_a_digest_is_written_only_for_new_records(signed: Trail) -> None:
    assert signed.digest() == 2
    assert signed.components.audit.write_digest() is None
    fields = signed.components.store.audit_digests()[-1].fields
    assert (fields["coversFromSequence"], fields["coversToSequence"]) == (51, 60)


def test_a_hundred_thousand_records_verify(trail: Trail) -> None:
    trail.append(60_000)
    trail.digest()
    trail.append(40_000)
    trail.digest()
    report = trail.verify()
    assert report.intact, report.issues
    assert (report.records, report.digests) == (100_000, 2)
