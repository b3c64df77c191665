"""The web console: server-rendered pages over the same use cases, authorization and audit as the API.

Every action a page takes is one request as the API would make it: a ``RequestContext`` (the AWS
operation name, its CloudTrail readOnly, a userAgent that starts ``trent-console/``), the caller
rebuilt from the session's access key on every request (so policy changes apply at once), and the
use case run inside ``AuditBroker.run``. A ``TrentError`` is shown on the page as
"<Code>: <message>" and changes nothing.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Sequence
from importlib import resources

from trent.console.aliases import AliasPages
from trent.console.audit import VERIFY_REUSE_SECONDS, AuditPages
from trent.console.core import SIGNIN, ApiOperations, ConsoleCore, Section, SignedOutError
from trent.console.http import (
    COOKIE,
    SIGN_IN_COOKIE,
    BadFormError,
    FormTooLargeError,
    HttpRequest,
    HttpResponse,
    Receive,
    Scope,
    Send,
    read_request,
    redirect,
    send_response,
    session_cookie,
)
from trent.console.identities import IdentityPages
from trent.console.keys import KeyPages
from trent.console.sessions import DEFAULT_IDLE_SECONDS, Session, SessionStore, SessionTable
from trent.console.sign_in_throttle import FailureTable, SignInThrottle
from trent.domain.audit import VerifyReport
from trent.domain.errors import (
    ThrottlingException,
    TrentError,
    UnrecognizedClientException,
)
from trent.services.audit import AuditService
from trent.services.iam import IamService
from trent.services.identity import IdentityService
from trent.services.kms import Kms
from trent.services.request import RequestObserver

BAD_CREDENTIALS = "The access key ID or secret access key is not valid."
REGION_MESSAGE = "Region is not a valid AWS Region name."
CSRF_MESSAGE = "CSRF token missing or invalid"
DEV_ACCESS_KEY_ID = "TRENTCONSOLEDEVROOT"
_SIGN_IN_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_DUMMY_SECRET = "x" * 40


class ConsoleApp:
    """ASGI app for every path under /console (mounted by api.app.KmsApi)."""

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
        sessions: SessionTable,
        sign_in_failures: FailureTable,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        observers: Sequence[RequestObserver] = (),
        default_region: str = "us-east-1",
        regions: Sequence[str] = (),
        verify_trail: Callable[[], VerifyReport] | None = None,
        verify_reuse_seconds: float = VERIFY_REUSE_SECONDS,
    ) -> None:
        self._core = ConsoleCore(
            kms=kms,
            api=api,
            identities=identities,
            iam=iam,
            audit=audit,
            account_id=account_id,
            dev=dev,
            observers=observers,
            regions=regions,
            verify_trail=verify_trail,
        )
        self._regions = frozenset(regions)
        self._identities = identities
        self._broker = self._core.broker
        self._page = self._core.page
        self._context = self._core.context
        self._caller = self._core.caller
        self._dev = dev
        self._region = default_region
        self.sessions = SessionStore(sessions, idle_seconds, allow_dev_root=dev)
        self._throttle = SignInThrottle(sign_in_failures)
        audit_pages = AuditPages(self._core, verify_reuse_seconds)
        self._sections: dict[str, Section] = {
            "keys": KeyPages(self._core, audit_pages),
            "aliases": AliasPages(self._core),
            "identities": IdentityPages(self._core),
            "audit": audit_pages,
        }
        self._audit_pages = audit_pages
        self._css = resources.files("trent.console").joinpath("static/console.css").read_bytes()

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            http = await read_request(scope, receive)
        except FormTooLargeError:
            await send_response(send, HttpResponse(413, b"Form too large", b"text/plain; charset=utf-8"))
            return
        except BadFormError:
            await send_response(send, HttpResponse(400, b"Malformed form data", b"text/plain; charset=utf-8"))
            return
        try:
            response = await self._route(http)
        except SignedOutError:
            session_id = http.cookies.get(COOKIE)
            if session_id:
                self.sessions.end(session_id)
            response = redirect("/console/sign-in", 303)
        await send_response(send, response)

    async def _route(self, http: HttpRequest) -> HttpResponse:
        path, method = http.path.rstrip("/") or "/console", http.method
        if path == "/console/static/console.css":
            return HttpResponse(200, self._css, b"text/css; charset=utf-8")
        session = self.sessions.get(http.cookies.get(COOKIE))
        if (
            path in ("/console/sign-in", "/console/sign-in/dev")
            and method == "POST"
            and not self._sign_in_token_ok(http)
        ):
            return self._page(http, None, "error.html", status=403, alert=CSRF_MESSAGE, title="Forbidden")
        if path == "/console/sign-in":
            if method == "POST":
                return await self._sign_in(http)
            if session is not None:
                return redirect("/console/keys", 302)
            return self._sign_in_page(http)
        if path == "/console/sign-in/dev" and method == "POST" and self._dev:
            return self._dev_sign_in(http)
        if session is None:
            return redirect("/console/sign-in", 303 if method == "POST" else 302)
        if method == "POST" and not session.csrf_ok(http.field("csrf_token") or None):
            return self._page(http, session, "error.html", status=403, alert=CSRF_MESSAGE, title="Forbidden")
        try:
            return await self._signed_in(http, session, path, method)
        finally:
            if path != "/console/sign-out":
                self.sessions.save(session)  # this request's message for the next page, a new Region

    async def _signed_in(self, http: HttpRequest, session: Session, path: str, method: str) -> HttpResponse:
        if path == "/console":
            return redirect("/console/keys", 302)
        if path == "/console/sign-out" and method == "POST":
            self.sessions.end(session.session_id)
            return HttpResponse(
                303,
                b"",
                headers=[(b"location", b"/console/sign-in"), session_cookie("", secure=http.secure, max_age=0)],
            )
        if path == "/console/region" and method == "POST":
            return self._switch_region(http, session)
        parts = path.split("/")[2:]  # after "/console"
        section = parts[0]
        pages = self._sections.get(section)
        if pages is not None:
            return await pages.route(http, session, parts[1:], method)
        if section == "usage":
            return await self._audit_pages.usage_page(http, session)
        return self._page(http, session, "error.html", status=404, alert="Not found", title="Not found")

    # ------------------------------------------------------------------ sign-in

    def _sign_in_page(self, http: HttpRequest, *, alert: str | None = None, status: int = 200) -> HttpResponse:
        # A login-CSRF guard before any session exists: the token in the form and in a cookie must match.
        # Reused only when it is one of ours (43 URL-safe characters): a planted cookie value would
        # otherwise be written back into Set-Cookie, attributes and all.
        token = http.cookies.get(SIGN_IN_COOKIE, "")
        if not _SIGN_IN_TOKEN.fullmatch(token):
            token = secrets.token_urlsafe(32)
        response = self._page(
            http,
            None,
            "sign_in.html",
            status=status,
            alert=alert,
            access_key_id=http.field("access_key_id"),
            region=http.field("region") or self._region,
            sign_in_token=token,
        )
        response.headers.append(session_cookie(token, secure=http.secure, max_age=900, name=SIGN_IN_COOKIE))
        return response

    @staticmethod
    def _sign_in_token_ok(http: HttpRequest) -> bool:
        expected = http.cookies.get(SIGN_IN_COOKIE, "")
        submitted = http.field("csrf_token")
        # Only a token of the form we hand out counts: a value planted in the cookie is not one.
        return bool(_SIGN_IN_TOKEN.fullmatch(expected)) and hmac.compare_digest(submitted.encode(), expected.encode())

    async def _sign_in(self, http: HttpRequest) -> HttpResponse:
        access_key_id = http.field("access_key_id").strip()
        submitted = http.field("secret_access_key")
        region = http.field("region").strip() or self._region
        if not self._region_ok(region):
            return self._sign_in_page(http, alert=REGION_MESSAGE, status=400)
        wait = self._throttle.retry_after(http.client_ip, access_key_id)
        # CloudTrail records console sign-ins as ConsoleLogin (signin.amazonaws.com), failures too.
        request = self._context(http, SIGNIN, "ConsoleLogin", read_only=False)
        request.claimed_access_key_id = access_key_id
        request.claimed_region = region
        request.request_parameters = None

        def work() -> None:
            if wait is not None:
                raise ThrottlingException(f"Too many failed sign-in attempts. Try again in {wait} seconds.")
            try:
                secret, _principal = self._identities.lookup(access_key_id) if access_key_id else ("", None)
            except TrentError:
                secret = ""
            expected = secret or _DUMMY_SECRET  # the same comparison whether or not the key exists
            matches = hmac.compare_digest(submitted.encode(), expected.encode())
            if not secret or not matches:
                raise UnrecognizedClientException(BAD_CREDENTIALS)
            session = Session("", access_key_id, region, dev_root=False)
            request.authenticate(self._caller(http, session, None))
            request.response_elements = {"ConsoleLogin": "Success"}

        try:
            await self._broker.run(request, work)
        except ThrottlingException as error:
            return self._sign_in_page(http, alert=error.message, status=429)
        except TrentError:
            self._throttle.failed(http.client_ip, access_key_id)
            return self._sign_in_page(http, alert=BAD_CREDENTIALS, status=401)
        self._throttle.succeeded(access_key_id)
        return self._start_session(http, self.sessions.create(access_key_id, region))

    def _region_ok(self, region: str) -> bool:
        if self._regions:
            return region in self._regions
        return REGION_NAME.fullmatch(region) is not None

    def _switch_region(self, http: HttpRequest, session: Session) -> HttpResponse:
        region = http.field("region").strip()
        if not self._region_ok(region):
            return self._page(http, session, "error.html", status=400, alert=REGION_MESSAGE, title="Bad request")
        session.region = region
        session.flash = f"Now working in {region}."
        # Back to the section the switch was made in: its resources are of the old Region.
        section = http.field("back").removeprefix("/console/").split("/")[0]
        known = section in self._sections or section == "usage"
        return redirect(f"/console/{section}" if known else "/console/keys", 303)

    def _dev_sign_in(self, http: HttpRequest) -> HttpResponse:
        return self._start_session(http, self.sessions.create(DEV_ACCESS_KEY_ID, self._region, dev_root=True))

    def _start_session(self, http: HttpRequest, session: Session) -> HttpResponse:
        return HttpResponse(
            303,
            b"",
            headers=[(b"location", b"/console/keys"), session_cookie(session.session_id, secure=http.secure)],
        )
