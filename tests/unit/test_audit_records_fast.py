"""The cheaper paths of building and appending audit records give what the plain ones gave.

``cloudtrail_time`` caches the second it formatted last, ``chain_hash`` hashes with hashlib,
``random_uuid`` formats through ``bytes.hex`` and ``request_event`` builds its ``AuditEvent``
positionally: each is checked here against the plain definition it replaces.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from trent.api.audit_records import key_arns_in
from trent.crypto.digest import sha256
from trent.domain.audit import AuditResource, chain_hash, cloudtrail_time, random_uuid
from trent.domain.identity import Caller
from trent.services.audit import AuditService, RequestFacts
from trent.storage.audit_tables import _resource_lines

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _plain_time(moment: datetime) -> str:
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def test_cloudtrail_time_matches_the_plain_format_across_seconds_and_zones() -> None:
    moment = datetime(2026, 3, 29, 0, 59, 58, 999_999, tzinfo=timezone(timedelta(hours=1)))
    for step in range(3000):
        # Alternating zones and naive moments: the cached second must never answer for another zone.
        for variant in (moment, moment.replace(tzinfo=None), moment.astimezone(UTC), moment.replace(fold=1)):
            assert cloudtrail_time(variant) == _plain_time(variant)
        moment += timedelta(microseconds=137_911 * (step % 9))


def test_cloudtrail_time_at_the_ends_of_the_calendar() -> None:
    for moment in (datetime.min, datetime.max, datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)):
        assert cloudtrail_time(moment) == _plain_time(moment)


def test_cloudtrail_time_changes_with_the_second() -> None:
    second = datetime(2026, 11, 28, 18, 0, 0, tzinfo=UTC)
    assert cloudtrail_time(second) == "2026-11-28T18:00:00Z"
    assert cloudtrail_time(second.replace(microsecond=999_999)) == "2026-11-28T18:00:00Z"
    assert cloudtrail_time(second + timedelta(seconds=1)) == "2026-11-28T18:00:01Z"
    assert cloudtrail_time(second - timedelta(microseconds=1)) == "2026-11-28T17:59:59Z"


@pytest.mark.parametrize("size", [0, 1, 63, 64, 700, 5000])
def test_chain_hash_is_the_labelled_sha256(size: int) -> None:
    previous, record = bytes(range(32)), bytes(i % 251 for i in range(size))
    expected = sha256(b"trent-audit-chain-v1\x00", previous, (2**40 + size).to_bytes(8, "big"), record)
    assert chain_hash(previous, 2**40 + size, record) == expected


def test_random_uuid_is_a_version_4_uuid() -> None:
    ids = [random_uuid() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", text)
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


class _Clock:
    def now(self) -> datetime:
        return datetime(2026, 11, 28, 18, 0, 0, 250_000, tzinfo=UTC)


def _service() -> AuditService:
    return AuditService(store=None, committer=None, root=None, clock=_Clock(), account_id="999988887777")  # type: ignore[arg-type]


def test_request_event_fields_agree_with_its_record() -> None:
    caller = Caller(
        "111122223333",
        "arn:aws:iam::111122223333:user/alice",
        "IAMUser",
        "eu-west-1",
        access_key_id="AKIAALICE",
        user_name="alice",
    )
    facts = RequestFacts("req-1", "kms.amazonaws.com", "Encrypt", "eu-west-1", "10.0.0.1", "agent/1", caller)
    event = _service().request_event(
        facts,
        read_only=True,
        request_parameters={"keyId": "k"},
        response_elements=None,
        resources=[KEY_ARN],
        key_uses=[KEY_ARN],
    )
    record = event.record
    assert list(record) == [
        "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
        "userAgent", "requestParameters", "responseElements", "requestID", "eventID", "readOnly", "resources",
        "eventType", "managementEvent", "recipientAccountId", "eventCategory",
    ]  # fmt: skip
    assert (event.event_id, event.event_name, event.event_source, event.region) == (
        record["eventID"],
        record["eventName"],
        record["eventSource"],
        record["awsRegion"],
    )
    assert event.event_time == _Clock().now()
    assert record["eventTime"] == "2026-11-28T18:00:00Z"
    assert event.read_only is True
    assert event.account_id == "111122223333" == record["recipientAccountId"]
    assert (event.username, event.access_key_id) == ("alice", "AKIAALICE")
    assert event.resources == (AuditResource("AWS::KMS::Key", KEY_ARN),)
    assert event.key_uses == (KEY_ARN,)
    assert record["resources"] == [{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": KEY_ARN}]


def test_an_unauthenticated_request_event_with_an_error_and_no_resources() -> None:
    facts = RequestFacts("req-2", "kms.amazonaws.com", "Decrypt", "us-east-1", "", "", None, access_key_id="AKIAX")
    event = _service().request_event(
        facts,
        read_only=True,
        request_parameters=None,
        response_elements=None,
        error=("UnrecognizedClientException", "bad key"),
        additional={"note": 1},
    )
    record = event.record
    assert record["userIdentity"] == {"type": "Unknown", "accountId": "999988887777", "accessKeyId": "AKIAX"}
    assert list(record)[8:14] == [
        "errorCode", "errorMessage", "requestParameters", "responseElements", "additionalEventData", "requestID",
    ]  # fmt: skip
    assert "resources" not in record
    assert event.resources == ()
    assert event.key_uses == ()
    assert (event.account_id, event.username, event.access_key_id) == ("999988887777", None, "AKIAX")


def test_resource_lines() -> None:
    one = AuditResource("AWS::KMS::Key", KEY_ARN)
    two = AuditResource("AWS::KMS::Alias", "arn:aws:kms:us-east-1:111122223333:alias/a")
    assert _resource_lines(()) == ""
    assert _resource_lines((one,)) == f"AWS::KMS::Key\t{KEY_ARN}"
    assert _resource_lines((one, two)) == f"AWS::KMS::Key\t{KEY_ARN}\nAWS::KMS::Alias\t{two.name}"


def test_key_arns_in() -> None:
    alias = "arn:aws:kms:us-east-1:111122223333:alias/a"
    assert key_arns_in(None) == []
    assert key_arns_in({}) == []
    assert key_arns_in({"KeyId": KEY_ARN, "CiphertextBlob": b"x"}) == [KEY_ARN]
    assert key_arns_in({"KeyId": alias}) == []
    assert key_arns_in({"KeyMetadata": {"Arn": KEY_ARN}, "KeyId": KEY_ARN}) == [KEY_ARN]
    assert key_arns_in({"SourceKeyId": KEY_ARN, "KeyId": KEY_ARN[:-1] + "c"}) == [KEY_ARN, KEY_ARN[:-1] + "c"]
