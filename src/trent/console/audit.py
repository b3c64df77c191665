"""Console pages for the audit trail and usage charts."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from trent.console import chart
from trent.console.core import CLOUDTRAIL, ConsoleCore, Pages, alert_text, error_status, parse_time
from trent.console.http import (
    HttpRequest,
    HttpResponse,
)
from trent.console.sessions import Session
from trent.domain.audit import VerifyReport
from trent.domain.errors import (
    TrentError,
)
from trent.services.audit import LookupQuery
from trent.services.request import RequestContext

AUDIT_PER_PAGE = 50
USAGE_LIMIT = 5000
VERIFY_REUSE_SECONDS = 30.0
# The audit page's filters: query name -> LookupEvents attribute. The first one given is the
# attribute LookupEvents takes (it takes one); the others narrow the page it returns.
LOOKUP_FILTERS = {
    "event_name": "EventName",
    "user": "Username",
    "resource": "ResourceName",
    "resource_type": "ResourceType",
    "access_key": "AccessKeyId",
    "event_source": "EventSource",
    "read_only": "ReadOnly",
}


class AuditPages(Pages):
    """The audit trail (LookupEvents), one event's CloudTrail JSON, and the usage charts."""

    def __init__(self, core: ConsoleCore, verify_reuse_seconds: float = VERIFY_REUSE_SECONDS) -> None:
        super().__init__(core)
        self._verify_reuse_seconds = verify_reuse_seconds
        self._verifying = asyncio.Lock()  # one chain check at a time: each reads the whole trail
        # The last check (report, seconds it took, when it ended): reused for a while (30 s), so
        # reloading the page, by anyone, cannot make the server re-read a large trail back to back.
        self._last_check: tuple[VerifyReport, float, float] | None = None

    async def route(self, http: HttpRequest, session: Session, rest: list[str], method: str) -> HttpResponse:
        if rest == ["verify"]:
            return await self._verify_page(http, session)
        if len(rest) == 1:
            return await self._event_page(http, session, rest[0])
        return await self._audit_page(http, session)

    async def _usage_records(
        self, http: HttpRequest, session: Session, attribute: tuple[str, str] | None, start: datetime, end: datetime
    ) -> tuple[list[dict[str, Any]], bool]:
        """The usage chart's records: more than one API page (at most 50) holds, so through the use
        case, recorded as the LookupEvents it stands for; and whether there were more than it reads."""

        def lookup(r: RequestContext) -> tuple[list[tuple[int, bytes]], int | None]:
            query = LookupQuery(r.caller.region, attribute, start, end, None, USAGE_LIMIT)
            return self._audit.lookup_as(r.caller, query)

        params = _lookup_params(attribute, start, end)
        rows, more = await self._call(http, session, CLOUDTRAIL, "LookupEvents", params, lookup)
        return [json.loads(record) for _seq, record in rows], more is not None

    async def _lookup_page(
        self,
        http: HttpRequest,
        session: Session,
        attribute: tuple[str, str] | None,
        start: datetime | None,
        end: datetime | None,
        next_token: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One LookupEvents page through the API's handler: its checks (InvalidTimeRangeException, a
        NextToken bound to the query), its record; the events' CloudTrail records and the NextToken."""
        params = {"MaxResults": limit, **_lookup_params(attribute, start, end)}
        if next_token:
            params["NextToken"] = next_token
        result = await self._invoke(http, session, CLOUDTRAIL, "LookupEvents", params)
        return [json.loads(event["CloudTrailEvent"]) for event in result["Events"]], result.get("NextToken")

    async def usage(
        self, http: HttpRequest, session: Session, resource: str | None
    ) -> tuple[chart.Usage | None, str | None]:
        now = datetime.now(UTC)
        attribute = ("ResourceName", resource) if resource else None
        try:
            records, truncated = await self._usage_records(http, session, attribute, now - timedelta(minutes=60), now)
        except TrentError as error:
            return None, alert_text(error)
        usage = chart.usage_from_records(records, now)
        usage.truncated = truncated
        return usage, None

    async def usage_page(self, http: HttpRequest, session: Session) -> HttpResponse:
        usage, error = await self.usage(http, session, None)
        return self._page(
            http,
            session,
            "usage.html",
            alert=error,
            usage=usage,
            chart_svg=chart.svg(usage) if usage is not None else None,
            chart_colours=chart.colours(usage) if usage is not None else {},
        )

    async def _audit_page(self, http: HttpRequest, session: Session) -> HttpResponse:
        filters = {name: http.arg(name) for name in ("start", "end", *LOOKUP_FILTERS)}
        alert = None
        try:
            start = parse_time(filters["start"])
            end = parse_time(filters["end"])
        except ValueError:
            return self._page(
                http,
                session,
                "audit.html",
                status=400,
                alert="ValidationException: start and end are times like 2025-01-31T13:45 (UTC).",
                events=[],
                filters=filters,
                verify=None,
            )
        next_token = http.arg("next_token")[:1000] or None
        # LookupEvents takes one attribute; the others filter the page it returns.
        wanted = [(attribute, filters[name]) for name, attribute in LOOKUP_FILTERS.items() if filters[name]]
        attribute = wanted[0] if wanted else None
        events: list[dict[str, Any]] = []
        more = None
        status = 200
        try:
            records, more = await self._lookup_page(http, session, attribute, start, end, next_token, AUDIT_PER_PAGE)
            records = [r for r in records if all(_record_has(r, key, value) for key, value in wanted[1:])]
            events = [_event_row(record) for record in records]
            if http.arg("format") == "json":
                # This page's records as CloudTrail writes them ({"Records": [...]}), to keep or to grep.
                body = json.dumps({"Records": records}, indent=2, sort_keys=True).encode()
                disposition = b'attachment; filename="trent-audit-events.json"'
                return HttpResponse(200, body, b"application/json", [(b"content-disposition", disposition)])
        except TrentError as error:
            alert, status = alert_text(error), error_status(error)
        download_url = "/console/audit?" + urlencode(
            {
                **{k: v for k, v in filters.items() if v},
                **({"next_token": next_token} if next_token else {}),
                "format": "json",
            }
        )
        next_url = None
        if more is not None:
            next_url = "/console/audit?" + urlencode({**{k: v for k, v in filters.items() if v}, "next_token": more})
        return self._page(
            http,
            session,
            "audit.html",
            status=status,
            alert=alert,
            events=events,
            filters=filters,
            next_url=next_url,
            download_url=download_url,
        )

    async def _verify_page(self, http: HttpRequest, session: Session) -> HttpResponse:
        """`trent audit verify` from the console, for a caller allowed to read the trail."""
        try:
            # What the check reports is about the trail: only a caller LookupEvents lets in sees it.
            await self._lookup_page(http, session, None, None, None, None, 1)
        except TrentError as error:
            return self._error_page(http, session, error, "Verify the audit trail")
        async with self._verifying:
            last = self._last_check
            if last is None or time.monotonic() - last[2] >= self._verify_reuse_seconds:
                started = time.perf_counter()
                # Off the event loop, on a connection of its own (bootstrap): it reads every record.
                report = await asyncio.to_thread(self._core.verify_trail)
                last = self._last_check = (report, time.perf_counter() - started, time.monotonic())
        report, seconds, ended = last
        age = time.monotonic() - ended
        return self._page(
            http,
            session,
            "audit_verify.html",
            verify=report,
            seconds=seconds,
            age=age,
            reuse=self._verify_reuse_seconds,
        )

    async def _event_page(self, http: HttpRequest, session: Session, event_id: str) -> HttpResponse:
        if not re.fullmatch(r"[0-9a-fA-F-]{1,64}", event_id):
            return self._page(http, session, "error.html", status=404, alert="Not found", title="Not found")
        try:
            records, _more = await self._lookup_page(http, session, ("EventId", event_id), None, None, None, 1)
        except TrentError as error:
            return self._error_page(http, session, error, "Event")
        if not records:
            return self._page(
                http, session, "error.html", status=404, alert="No such event in this Region.", title="Event"
            )
        record = records[0]
        return self._page(
            http,
            session,
            "event.html",
            event=_event_row(record),
            record_json=json.dumps(record, indent=2, sort_keys=True),
        )


def _event_row(record: Mapping[str, Any]) -> dict[str, Any]:
    identity = record.get("userIdentity") or {}
    user = identity.get("userName") or (identity.get("type") == "Root" and "root") or identity.get("arn") or ""
    keys = [r.get("ARN", "") for r in record.get("resources") or () if r.get("type") == "AWS::KMS::Key"]
    return {
        "id": record.get("eventID", ""),
        "time": record.get("eventTime", ""),
        "name": record.get("eventName", ""),
        "source": record.get("eventSource", ""),
        "user": user,
        "key": keys[0] if keys else "",
        "resources": [r.get("ARN", "") for r in record.get("resources") or ()],
        "error": record.get("errorCode", ""),
        "user_agent": record.get("userAgent", ""),
    }


def _record_has(record: Mapping[str, Any], attribute: str, value: str) -> bool:
    """Whether LookupEvents would match ``record`` for this attribute (the page's further filters)."""
    identity = record.get("userIdentity") or {}
    resources = record.get("resources") or ()
    if attribute == "EventName":
        return bool(record.get("eventName") == value)
    if attribute == "Username":
        return _lookup_username(identity) == value
    if attribute == "AccessKeyId":
        return bool(identity.get("accessKeyId") == value)
    if attribute == "EventSource":
        return bool(record.get("eventSource") == value)
    if attribute == "ReadOnly":
        return str(record.get("readOnly")).lower() == value.lower()
    if attribute == "ResourceType":
        return any(r.get("type") == value for r in resources)
    return any(r.get("ARN") == value for r in resources)  # ResourceName


def _lookup_username(identity: Mapping[str, Any]) -> str | None:
    """CloudTrail's Username of a record: the user name, the role session name, or root."""
    kind = identity.get("type")
    if kind == "IAMUser":
        return identity.get("userName")
    if kind == "AssumedRole":
        return str(identity.get("arn", "")).rsplit("/", 1)[-1] or None
    return "root" if kind == "Root" else None


def _lookup_params(attribute: tuple[str, str] | None, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    """LookupEvents' members for a query, as an SDK sends them."""
    params: dict[str, Any] = {}
    if attribute is not None:
        params["LookupAttributes"] = [{"AttributeKey": attribute[0], "AttributeValue": attribute[1]}]
    if start is not None:
        params["StartTime"] = start.timestamp()
    if end is not None:
        params["EndTime"] = end.timestamp()
    return params
