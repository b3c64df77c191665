"""What every console page shares: the services, one audited request, and rendering.

``ConsoleCore.call`` is the console's only way into the services: a ``RequestContext`` with the AWS
operation name, its CloudTrail readOnly and a userAgent that starts ``trent-console/``; the caller
rebuilt from the session's access key on every request (so a policy change applies at once); the use
case run inside ``AuditBroker.run``. Page classes (keys, aliases, identities, audit) subclass ``Pages``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from jinja2 import Environment, PackageLoader, select_autoescape

from trent import __version__
from trent.console.http import HttpRequest, HttpResponse
from trent.console.sessions import Session
from trent.domain.audit import TRACKED_OPERATIONS, VerifyReport, random_uuid
from trent.domain.errors import (
    AccessDeniedException,
    ExpiredTokenException,
    NotFoundException,
    TrentError,
    UnrecognizedClientException,
)
from trent.domain.identity import Caller
from trent.domain.ids import account_root_arn
from trent.services.audit import AuditService
from trent.services.audit_broker import AuditBroker
from trent.services.iam import IamService
from trent.services.identity import IdentityService
from trent.services.kms import Kms
from trent.services.request import RequestContext, RequestObserver

_T = TypeVar("_T")

KMS = "kms.amazonaws.com"
IAM = "iam.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
SIGNIN = "signin.amazonaws.com"
USER_AGENT_PREFIX = f"trent-console/{__version__}"


class SignedOutError(Exception):
    """The session's access key no longer works (deleted, expired): the session ends."""


class ApiOperations(Protocol):
    """The API's model, handlers and CloudTrail shaping, for callers in the process
    (``trent.api.in_process.InProcessApi``; bootstrap passes it in)."""

    def read_only(self, source: str, operation: str) -> bool: ...

    def prepare(self, request: RequestContext, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``params`` (the model's member names) and record them on ``request``."""
        ...

    def run(self, request: RequestContext, params: Mapping[str, Any]) -> dict[str, Any]:
        """``prepare``, then the API's own handler; its unencoded result."""
        ...


class ConsoleCore:
    def __init__(
        self,
        *,
        kms: Kms,
        api: ApiOperations,
        identities: IdentityService,
        iam: IamService,
        audit: AuditService,
        account_id: str,
        dev: bool,
        observers: Sequence[RequestObserver] = (),
        regions: Sequence[str] = (),
        verify_trail: Callable[[], VerifyReport] | None = None,
    ) -> None:
        self.kms = kms
        self.api = api
        self.verify_trail = verify_trail or audit.verify
        self.regions = tuple(sorted(regions))  # offered by the Region switcher; empty: any name
        self.identities = identities
        self.iam = iam
        self.audit = audit
        self.broker = AuditBroker(audit, observers)
        self.account_id = account_id
        self.dev = dev
        self.env = Environment(
            loader=PackageLoader("trent.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # ------------------------------------------------------------------ requests through the services

    def context(self, http: HttpRequest, source: str, operation: str, *, read_only: bool) -> RequestContext:
        return RequestContext(
            request_id=random_uuid(),
            event_source=source,
            operation=operation,
            read_only=read_only,
            source_ip=http.client_ip,
            user_agent=f"{USER_AGENT_PREFIX} {http.user_agent}".strip(),
        )

    def caller(self, http: HttpRequest, session: Session, change_token: int | None) -> Caller:
        """The session's caller, rebuilt from its access key: a changed policy applies at once."""
        user_agent = f"{USER_AGENT_PREFIX} {http.user_agent}".strip()
        if session.dev_root:
            return Caller(
                account_id=self.account_id,
                arn=account_root_arn(self.account_id, session.region),
                principal_type="Root",
                region=session.region,
                access_key_id=session.access_key_id,
                source_ip=http.client_ip,
                user_agent=user_agent,
                secure_transport=http.secure,
            )
        _secret, principal = self.identities.lookup(session.access_key_id, None, change_token)
        return principal.caller(
            region=session.region,
            access_key_id=session.access_key_id,
            source_ip=http.client_ip,
            user_agent=user_agent,
            secure_transport=http.secure,
        )

    def account_of(self, http: HttpRequest, session: Session) -> str:
        """The session's account (the deployment's, if its key no longer resolves)."""
        try:
            return self.caller(http, session, None).account_id
        except TrentError:
            return self.account_id

    async def call(
        self,
        http: HttpRequest,
        session: Session,
        source: str,
        operation: str,
        params: Mapping[str, Any],
        use_case: Callable[[RequestContext], _T],
    ) -> _T:
        """One request of ``operation``: ``params`` as an SDK would send them, checked against the
        model and recorded as the API records them; then ``use_case`` for the domain result a page shows."""

        def work(request: RequestContext) -> _T:
            self.api.prepare(request, params)
            return use_case(request)

        return await self._request(http, session, source, operation, work)

    async def invoke(
        self, http: HttpRequest, session: Session, source: str, operation: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """One request of ``operation`` run by the API's own handler: its result as the API would
        answer it, unencoded, and its responseElements in the record."""
        return await self._request(http, session, source, operation, lambda request: self.api.run(request, params))

    async def _request(
        self,
        http: HttpRequest,
        session: Session,
        source: str,
        operation: str,
        run: Callable[[RequestContext], _T],
    ) -> _T:
        request = self.context(http, source, operation, read_only=self.api.read_only(source, operation))
        request.tracked = source == KMS and operation in TRACKED_OPERATIONS

        def work() -> _T:
            change_token = self.kms.change_token()
            request.claimed_access_key_id = session.access_key_id
            request.claimed_region = session.region
            request.authenticate(self.caller(http, session, change_token))
            self.kms.begin_request(change_token)
            return run(request)

        try:
            return await self.broker.run(request, work)
        except (UnrecognizedClientException, ExpiredTokenException):
            if not request.authenticated:
                raise SignedOutError from None
            raise

    def kms_call(
        self,
        http: HttpRequest,
        session: Session,
        operation: str,
        params: Mapping[str, Any],
        use_case: Callable[[RequestContext], _T],
    ) -> Any:  # an awaitable of _T
        return self.call(http, session, KMS, operation, params, use_case)

    def kms_invoke(self, http: HttpRequest, session: Session, operation: str, params: Mapping[str, Any]) -> Any:
        return self.invoke(http, session, KMS, operation, params)

    # ------------------------------------------------------------------ rendering

    def page(
        self,
        http: HttpRequest,
        session: Session | None,
        template: str,
        *,
        status: int = 200,
        alert: str | None = None,
        **context: Any,
    ) -> HttpResponse:
        flash = None
        if session is not None and session.flash:
            flash, session.flash = session.flash, None
        html = self.env.get_template(template).render(
            session=session,
            csrf_token=session.csrf_token if session is not None else "",
            alert=alert,
            flash=flash,
            dev=self.dev,
            version=__version__,
            path=http.path,
            regions=self.regions,
            **context,
        )
        return HttpResponse(status, html.encode())

    def error_page(self, http: HttpRequest, session: Session, error: TrentError, title: str) -> HttpResponse:
        return self.page(http, session, "error.html", status=error_status(error), alert=alert_text(error), title=title)


class Section(Protocol):
    """What the app routes /console/<section>/... to."""

    async def route(self, http: HttpRequest, session: Session, rest: list[str], method: str) -> HttpResponse: ...


class Pages:
    """A group of pages: the core's services and helpers under the names the page code uses."""

    def __init__(self, core: ConsoleCore) -> None:
        self._core = core
        self._kms = core.kms
        self._iam = core.iam
        self._audit = core.audit
        self._call = core.call
        self._kms_call = core.kms_call
        self._invoke = core.invoke
        self._kms_invoke = core.kms_invoke
        self._page = core.page
        self._error_page = core.error_page

    def _not_found(self, http: HttpRequest, session: Session) -> HttpResponse:
        return self._page(http, session, "error.html", status=404, alert="Not found", title="Not found")


def alert_text(error: TrentError) -> str:
    return f"{error.code}: {error.message}" if error.message else error.code


def error_status(error: TrentError) -> int:
    if isinstance(error, AccessDeniedException):
        return 403
    if isinstance(error, NotFoundException):
        return 404
    return 400


def parse_time(text: str) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
