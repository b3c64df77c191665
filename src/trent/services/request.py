"""One request as the use cases see it: who asks, what for, and what it touched.

A front end (the API, and later the console and the CLI) makes one ``RequestContext`` per request
before anything can fail, fills in the caller once authentication succeeds and the request
parameters as the record shows them; the use cases add the keys they resolve and anything the
record must say that only they know. The audit broker turns the finished context into the
CloudTrail record. Nothing here knows HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from trent.domain.errors import TrentError
from trent.domain.identity import Caller


class UnauthenticatedError(RuntimeError):
    """A use case ran before the front end authenticated the request: a Trent bug."""


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    """Something the service did by itself while answering (an AWS managed key created on first
    use): recorded as an AwsServiceEvent in the same unit of work as the request's own record."""

    event_name: str
    region: str
    key_arn: str
    additional: Mapping[str, Any]


@dataclass(slots=True)
class RequestContext:
    request_id: str
    event_source: str  # kms.amazonaws.com, sts.amazonaws.com, ...
    operation: str  # the record's eventName
    read_only: bool
    source_ip: str = ""
    user_agent: str = ""
    # Until authentication succeeds: what the request claims, for the record only.
    claimed_region: str = "us-east-1"
    claimed_access_key_id: str | None = None
    # Usage of keys by a successful request counts for GetKeyLastUsage.
    tracked: bool = False
    _caller: Caller | None = None
    request_parameters: Mapping[str, Any] | None = None
    response_elements: Mapping[str, Any] | None = None
    # The record's resources, in the order the use case met them (key ARNs, alias ARNs).
    resources: list[str] = field(default_factory=list)
    service_events: list[ServiceEvent] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    @property
    def authenticated(self) -> bool:
        return self._caller is not None

    @property
    def caller(self) -> Caller:
        if self._caller is None:
            raise UnauthenticatedError(f"{self.operation} used before authentication")
        return self._caller

    @property
    def caller_or_none(self) -> Caller | None:
        return self._caller

    def authenticate(self, caller: Caller) -> None:
        self._caller = caller

    def touch(self, arn: str) -> None:
        """The request names or uses this resource; each is listed once, first mention first."""
        if arn not in self.resources:
            self.resources.append(arn)

    @property
    def key_arns(self) -> list[str]:
        return [arn for arn in self.resources if ":key/" in arn]


class RequestObserver(Protocol):
    """Told of every request the broker ran, once its record is durable (metrics, access log)."""

    def request_finished(self, request: RequestContext, error: TrentError | None) -> None: ...
