"""The audit broker: every request runs through it, and none is answered before its record is durable.

It takes a finished ``RequestContext`` and builds the CloudTrail record from it alone: it never
calls back into a use case, and no operation is special to it. A state-changing request and its
record share one transaction; a read-only request waits for the group commit of its record. Failed
and denied requests are recorded too. When a record cannot be written the request fails closed
(``AuditWriteError``) and nothing it computed leaves (Vault's audit broker does the same).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from trent.domain.audit import AuditEvent
from trent.domain.errors import AuditWriteError, KMSInternalException, TrentError
from trent.services.audit import AuditService, RequestFacts
from trent.services.request import RequestContext, RequestObserver

_Result = TypeVar("_Result")

log = logging.getLogger("trent.audit")


def cloudtrail_error_code(code: str) -> str:
    """CloudTrail's errorCode for an error: AWS logs denials as AccessDenied, whatever the service said."""
    return "AccessDenied" if code == "AccessDeniedException" else code


class AuditBroker:
    def __init__(self, audit: AuditService, observers: Sequence[RequestObserver] = ()) -> None:
        self._audit = audit
        self._observers = tuple(observers)

    async def run(self, request: RequestContext, work: Callable[[], _Result]) -> _Result:
        """Run ``work`` for ``request`` and make its record durable before returning its result."""
        if not self._observers:
            return await self._run(request, work)
        error: TrentError | None = None
        try:
            return await self._run(request, work)
        except TrentError as exc:
            error = exc
            raise
        except Exception:
            error = KMSInternalException.internal()
            raise
        finally:
            for observer in self._observers:
                observer.request_finished(request, error)

    async def _run(self, request: RequestContext, work: Callable[[], _Result]) -> _Result:
        try:
            if request.read_only:
                result = work()
                await self._commit(self.records(request, None))
                return result
            with self._audit.transaction():
                result = work()
                self._audit.append_in_transaction(self.records(request, None))
        except AuditWriteError:
            log.exception("request failed closed: its audit record could not be written")
            raise
        except TrentError as error:
            await self._commit(self.records(request, error))
            raise
        except Exception:
            await self._commit(self.records(request, KMSInternalException.internal()))
            raise
        return result

    def records(self, request: RequestContext, error: TrentError | None) -> list[AuditEvent]:
        """The request's record, after those of anything the service did by itself meanwhile."""
        events = (
            [
                self._audit.service_event(e.event_name, e.region, e.key_arn, additional=e.additional)
                for e in request.service_events
            ]
            if request.service_events
            else []
        )
        resources = request.resources
        succeeded = error is None
        events.append(
            self._audit.request_event(
                _facts(request),
                read_only=request.read_only,
                request_parameters=request.request_parameters,
                response_elements=request.response_elements if succeeded else None,
                resources=resources,
                error=None if error is None else (cloudtrail_error_code(error.code), error.message),
                key_uses=[arn for arn in resources if ":key/" in arn] if succeeded and request.tracked else (),
            )
        )
        return events

    async def _commit(self, events: Sequence[AuditEvent]) -> None:
        for event in events:
            await self._audit.commit(event)


def _facts(request: RequestContext) -> RequestFacts:
    caller = request.caller_or_none
    return RequestFacts(
        request_id=request.request_id,
        event_source=request.event_source,
        event_name=request.operation,
        region=caller.region if caller is not None else request.claimed_region,
        source_ip=caller.source_ip if caller is not None else request.source_ip,
        user_agent=caller.user_agent if caller is not None else request.user_agent,
        caller=caller,
        access_key_id=None if caller is not None else request.claimed_access_key_id,
    )
