"""CloudTrail's JSON protocol on Trent's endpoint: LookupEvents over the audit trail, ListPublicKeys.

``aws cloudtrail lookup-events --endpoint-url ...`` and boto3's LookupEvents paginator work
unchanged. Operations about trails, channels or event data stores do not apply to Trent and answer
UnsupportedOperationException.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from trent.api.audit_records import RecordShaper
from trent.api.codec import ServiceCodec
from trent.crypto.digest import sha256
from trent.domain.errors import (
    InvalidEventCategoryException,
    InvalidLookupAttributesException,
    InvalidMaxResultsException,
    InvalidNextTokenException,
    InvalidTimeRangeException,
    UnsupportedOperationException,
)
from trent.domain.identity import Caller
from trent.services.audit import AuditService, LookupQuery

_DEFAULT_MAX_RESULTS = 50
_MAX_RESULTS_RANGE = range(1, 51)
_TOKEN_PREFIX = "trent-lookup-v1:"  # noqa: S105 - a format marker, not a secret


def _encode_token(sequence: int, fingerprint: str) -> str:
    raw = f"{_TOKEN_PREFIX}{sequence}:{fingerprint}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, fingerprint: str) -> int:
    """The sequence to continue below; the token must come from the same query."""
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidNextTokenException.invalid() from None
    if not text.startswith(_TOKEN_PREFIX):
        raise InvalidNextTokenException.invalid()
    sequence, _, token_fingerprint = text[len(_TOKEN_PREFIX) :].partition(":")
    if not sequence.isdigit() or token_fingerprint != fingerprint:
        raise InvalidNextTokenException.invalid()
    return int(sequence)


def _query_fingerprint(attribute: tuple[str, str] | None, start: datetime | None, end: datetime | None) -> str:
    """Ties a NextToken to the query it continues."""
    parts = [attribute[0] if attribute else "", attribute[1] if attribute else "", str(start), str(end)]
    return sha256(orjson.dumps(parts))[:8].hex()


def _event(sequence: int, record_bytes: bytes) -> dict[str, Any]:
    del sequence
    record = orjson.loads(record_bytes)
    identity = record.get("userIdentity") or {}
    event: dict[str, Any] = {
        "EventId": record.get("eventID"),
        "EventName": record.get("eventName"),
        "ReadOnly": "true" if record.get("readOnly") else "false",
        "AccessKeyId": identity.get("accessKeyId"),
        "EventTime": datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
        "EventSource": record.get("eventSource"),
        "Username": _username(identity),
        "Resources": [
            {"ResourceType": resource.get("type"), "ResourceName": resource.get("ARN")}
            for resource in record.get("resources") or ()
        ],
        "CloudTrailEvent": record_bytes.decode(),
    }
    return event


def _username(identity: Mapping[str, Any]) -> str | None:
    kind = identity.get("type")
    if kind == "IAMUser":
        name = identity.get("userName")
        return str(name) if name is not None else None
    if kind == "AssumedRole":
        arn = str(identity.get("arn", ""))
        return arn.rsplit("/", 1)[-1] if "/" in arn else None
    if kind == "Root":
        return "root"
    return None


class CloudTrailApi:
    """Implements ``trent.api.app.CloudTrailHandler``."""

    def __init__(self, audit: AuditService) -> None:
        self._audit = audit
        self.codec = ServiceCodec("cloudtrail")
        self.shaper = RecordShaper(self.codec.model)

    def decode(self, operation: str, body: bytes) -> dict[str, Any]:
        """The model-driven decode, except that CloudTrail answers an out-of-range MaxResults with
        its own InvalidMaxResultsException rather than the generic ValidationException."""
        codec = self.codec.operation(operation)
        if codec is None:
            raise UnsupportedOperationException(f"{operation} is not supported by Trent; its audit trail is built in.")
        if operation == "LookupEvents" and b"MaxResults" in body:
            try:
                raw = orjson.loads(body)
            except orjson.JSONDecodeError:
                raw = None  # the codec gives the SerializationException
            value = raw.get("MaxResults") if isinstance(raw, dict) else None
            if type(value) is int and value not in _MAX_RESULTS_RANGE:
                raise InvalidMaxResultsException(f"Value {value} for MaxResults is invalid: it must be 1 to 50.")
        return codec.decode(body)

    def handle(self, operation: str, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any] | None:
        if operation == "LookupEvents":
            return self._lookup_events(caller, params)
        if operation == "ListPublicKeys":
            return self._list_public_keys(caller, params)
        raise UnsupportedOperationException(f"{operation} is not supported by Trent; its audit trail is built in.")

    def _lookup_events(self, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
        attributes = params.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise InvalidLookupAttributesException.too_many()
        attribute = None
        if attributes:
            attribute = (str(attributes[0]["AttributeKey"]), str(attributes[0]["AttributeValue"]))
        if params.get("EventCategory") is not None and params["EventCategory"] != "insight":
            raise InvalidEventCategoryException("EventCategory must be insight.")
        start: datetime | None = params.get("StartTime")
        end: datetime | None = params.get("EndTime")
        if start is not None and end is not None and start > end:
            raise InvalidTimeRangeException.start_after_end()
        fingerprint = _query_fingerprint(attribute, start, end)
        before = None
        if params.get("NextToken") is not None:
            before = _decode_token(str(params["NextToken"]), fingerprint)
        if params.get("EventCategory") == "insight":
            return {"Events": []}  # Trent records no Insights events
        limit = int(params.get("MaxResults") or _DEFAULT_MAX_RESULTS)
        rows, more = self._audit.lookup_as(caller, LookupQuery(caller.region, attribute, start, end, before, limit))
        result: dict[str, Any] = {"Events": [_event(sequence, record) for sequence, record in rows]}
        if more is not None:
            result["NextToken"] = _encode_token(more, fingerprint)
        return result

    def _list_public_keys(self, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
        start: datetime | None = params.get("StartTime")
        end: datetime | None = params.get("EndTime")
        if start is not None and end is not None and start > end:
            raise InvalidTimeRangeException.start_after_end()
        return {
            "PublicKeyList": [
                {"Value": key.public_der, "ValidityStartTime": key.created, "Fingerprint": key.fingerprint}
                for key in self._audit.public_keys_as(caller)
            ]
        }
