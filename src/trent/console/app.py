"""The web console: server-rendered pages over the same use cases, authorization and audit as the API.

Every action a page takes is one request as the API would make it: a ``RequestContext`` (the AWS
operation name, its CloudTrail readOnly, a userAgent that starts ``trent-console/``), the caller
rebuilt from the session's access key on every request (so policy changes apply at once), and the
use case run inside ``AuditBroker.run``. A ``TrentError`` is shown on the page as
"<Code>: <message>" and changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

from trent import __version__
from trent.console import chart
from trent.console.http import (
    COOKIE,
    SIGN_IN_COOKIE,
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
from trent.console.sessions import DEFAULT_IDLE_SECONDS, Session, SessionStore
from trent.domain.aliases import Alias
from trent.domain.audit import TRACKED_OPERATIONS, random_uuid
from trent.domain.errors import (
    AccessDeniedException,
    ExpiredTokenException,
    NotFoundException,
    TrentError,
    UnrecognizedClientException,
    ValidationException,
)
from trent.domain.grants import grantable_operations
from trent.domain.identity import Caller
from trent.domain.ids import account_root_arn
from trent.domain.keys import USAGES_BY_SPEC, Key, KeyState
from trent.services.audit import AuditService, LookupQuery
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
BAD_CREDENTIALS = "The access key ID or secret access key is not valid."
CSRF_MESSAGE = "CSRF token missing or invalid"
DEV_ACCESS_KEY_ID = "TRENTCONSOLEDEVROOT"
KEYS_PER_PAGE = 25
AUDIT_PER_PAGE = 50
USAGE_LIMIT = 5000
KEY_SPECS = tuple(USAGES_BY_SPEC)
KEY_USAGES = tuple(sorted({usage for usages in USAGES_BY_SPEC.values() for usage in usages}))
ORIGINS = ("AWS_KMS", "EXTERNAL")
WRAPPING_ALGORITHMS = ("RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1")
WRAPPING_KEY_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096")
STATES = tuple(state.value for state in KeyState)
_ALIAS_NAME = re.compile(r"^alias/[a-zA-Z0-9/_-]{1,250}$")
_KEY_ID = re.compile(r"^(mrk-)?[0-9a-f-]{32,36}$")
_DUMMY_SECRET = "x" * 40


class _SignedOutError(Exception):
    """The session's access key no longer works (deleted, expired): the session ends."""


class ConsoleApp:
    """ASGI app for every path under /console (mounted by api.app.KmsApi)."""

    def __init__(
        self,
        *,
        kms: Kms,
        identities: IdentityService,
        iam: IamService,
        audit: AuditService,
        account_id: str,
        dev: bool,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        observers: Sequence[RequestObserver] = (),
        default_region: str = "us-east-1",
    ) -> None:
        self._kms = kms
        self._identities = identities
        self._iam = iam
        self._audit = audit
        self._broker = AuditBroker(audit, observers)
        self._account_id = account_id
        self._dev = dev
        self._region = default_region
        self.sessions = SessionStore(idle_seconds)
        self._env = Environment(
            loader=PackageLoader("trent.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
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
        try:
            response = await self._route(http)
        except _SignedOutError:
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
        if path == "/console":
            return redirect("/console/keys", 302)
        if path == "/console/sign-out" and method == "POST":
            self.sessions.end(session.session_id)
            return HttpResponse(
                303,
                b"",
                headers=[(b"location", b"/console/sign-in"), session_cookie("", secure=http.secure, max_age=0)],
            )
        parts = path.split("/")[2:]  # after "/console"
        section = parts[0]
        if section == "keys":
            return await self._keys_route(http, session, parts[1:], method)
        if section == "aliases":
            if method == "POST" and parts[1:] == ["create"]:
                return await self._create_alias(http, session)
            if method == "POST" and parts[1:] == ["delete"]:
                return await self._delete_alias(http, session)
            return await self._aliases_page(http, session)
        if section == "identities":
            if method == "POST" and parts[1:] == ["users"]:
                return await self._create_user(http, session)
            if method == "POST" and parts[1:] == ["access-keys"]:
                return await self._create_access_key(http, session)
            if method == "POST" and parts[1:] == ["user-policy"]:
                return await self._put_user_policy(http, session)
            return await self._identities_page(http, session)
        if section == "audit":
            if len(parts) == 2:
                return await self._event_page(http, session, parts[1])
            return await self._audit_page(http, session)
        if section == "usage":
            return await self._usage_page(http, session)
        return self._page(http, session, "error.html", status=404, alert="Not found", title="Not found")

    async def _keys_route(self, http: HttpRequest, session: Session, rest: list[str], method: str) -> HttpResponse:
        if not rest:
            if method == "POST":
                return await self._create_key(http, session)
            return await self._keys_page(http, session)
        if rest == ["new"]:
            return self._new_key_page(http, session)
        key_id = rest[0]
        if not _KEY_ID.match(key_id):
            return self._page(http, session, "error.html", status=404, alert="Not found", title="Not found")
        if len(rest) == 1:
            return await self._key_page(http, session, key_id)
        if rest[1:] == ["public-key.pem"]:
            return await self._public_key(http, session, key_id)
        if method == "POST":
            return await self._key_action(http, session, key_id, "/".join(rest[1:]))
        return self._page(http, session, "error.html", status=404, alert="Not found", title="Not found")

    # ------------------------------------------------------------------ requests through the services

    def _context(self, http: HttpRequest, source: str, operation: str, *, read_only: bool) -> RequestContext:
        return RequestContext(
            request_id=random_uuid(),
            event_source=source,
            operation=operation,
            read_only=read_only,
            source_ip=http.client_ip,
            user_agent=f"{USER_AGENT_PREFIX} {http.user_agent}".strip(),
        )

    def _caller(self, http: HttpRequest, session: Session, change_token: int | None) -> Caller:
        """The session's caller, rebuilt from its access key: a changed policy applies at once."""
        user_agent = f"{USER_AGENT_PREFIX} {http.user_agent}".strip()
        if session.dev_root:
            return Caller(
                account_id=self._account_id,
                arn=account_root_arn(self._account_id, session.region),
                principal_type="Root",
                region=session.region,
                access_key_id=session.access_key_id,
                source_ip=http.client_ip,
                user_agent=user_agent,
                secure_transport=http.secure,
            )
        _secret, principal = self._identities.lookup(session.access_key_id, None, change_token)
        return principal.caller(
            region=session.region,
            access_key_id=session.access_key_id,
            source_ip=http.client_ip,
            user_agent=user_agent,
            secure_transport=http.secure,
        )

    async def _call(
        self,
        http: HttpRequest,
        session: Session,
        source: str,
        operation: str,
        params: Mapping[str, Any] | None,
        use_case: Callable[[RequestContext], _T],
        *,
        read_only: bool,
    ) -> _T:
        request = self._context(http, source, operation, read_only=read_only)
        request.tracked = source == KMS and operation in TRACKED_OPERATIONS
        request.request_parameters = dict(params) if params else None

        def work() -> _T:
            change_token = self._kms.change_token()
            request.claimed_access_key_id = session.access_key_id
            request.claimed_region = session.region
            request.authenticate(self._caller(http, session, change_token))
            self._kms.begin_request(change_token)
            return use_case(request)

        try:
            return await self._broker.run(request, work)
        except (UnrecognizedClientException, ExpiredTokenException):
            if not request.authenticated:
                raise _SignedOutError from None
            raise

    def _kms_call(
        self,
        http: HttpRequest,
        session: Session,
        operation: str,
        params: Mapping[str, Any] | None,
        use_case: Callable[[RequestContext], _T],
        *,
        read_only: bool,
    ) -> Any:  # an awaitable of _T
        return self._call(http, session, KMS, operation, params, use_case, read_only=read_only)

    # ------------------------------------------------------------------ rendering

    def _page(
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
        html = self._env.get_template(template).render(
            session=session,
            csrf_token=session.csrf_token if session is not None else "",
            alert=alert,
            flash=flash,
            dev=self._dev,
            version=__version__,
            path=http.path,
            **context,
        )
        return HttpResponse(status, html.encode())

    def _error_page(self, http: HttpRequest, session: Session, error: TrentError, title: str) -> HttpResponse:
        return self._page(http, session, "error.html", status=_status(error), alert=_alert(error), title=title)

    # ------------------------------------------------------------------ sign-in

    def _sign_in_page(self, http: HttpRequest, *, alert: str | None = None, status: int = 200) -> HttpResponse:
        # A login-CSRF guard before any session exists: the token in the form and in a cookie must match.
        token = http.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
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
        return bool(expected) and hmac.compare_digest(submitted.encode(), expected.encode())

    async def _sign_in(self, http: HttpRequest) -> HttpResponse:
        access_key_id = http.field("access_key_id").strip()
        submitted = http.field("secret_access_key")
        region = http.field("region").strip() or self._region
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", region):
            return self._sign_in_page(http, alert="Region is not a valid AWS Region name.", status=400)
        # CloudTrail records console sign-ins as ConsoleLogin (signin.amazonaws.com), failures too.
        request = self._context(http, SIGNIN, "ConsoleLogin", read_only=False)
        request.claimed_access_key_id = access_key_id
        request.claimed_region = region
        request.request_parameters = None

        def work() -> None:
            try:
                secret, _principal = self._identities.lookup(access_key_id) if access_key_id else ("", None)
            except TrentError:
                secret = ""
            expected = secret or _DUMMY_SECRET  # the same comparison whether or not the key exists
            matches = hmac.compare_digest(submitted.encode(), expected.encode())
            if not secret or not matches:
                raise UnrecognizedClientException(BAD_CREDENTIALS)
            session = Session("", "", access_key_id, region, dev_root=False)
            request.authenticate(self._caller(http, session, None))
            request.response_elements = {"ConsoleLogin": "Success"}

        try:
            await self._broker.run(request, work)
        except TrentError:
            return self._sign_in_page(http, alert=BAD_CREDENTIALS, status=401)
        return self._start_session(http, self.sessions.create(access_key_id, region))

    def _dev_sign_in(self, http: HttpRequest) -> HttpResponse:
        return self._start_session(http, self.sessions.create(DEV_ACCESS_KEY_ID, self._region, dev_root=True))

    def _start_session(self, http: HttpRequest, session: Session) -> HttpResponse:
        return HttpResponse(
            303,
            b"",
            headers=[(b"location", b"/console/keys"), session_cookie(session.session_id, secure=http.secure)],
        )

    # ------------------------------------------------------------------ keys

    async def _keys_page(self, http: HttpRequest, session: Session) -> HttpResponse:
        marker = http.arg("marker")
        if marker and not (marker.isdigit() and len(marker) <= 18):
            marker = ""
        filters = {name: http.arg(name) for name in ("q", "state", "spec", "usage", "origin", "multi_region")}
        params: dict[str, Any] = {"limit": KEYS_PER_PAGE} | ({"marker": marker} if marker else {})
        try:
            page = await self._kms_call(
                http,
                session,
                "ListKeys",
                params,
                lambda r: self._kms.management.list_keys(r, marker or None, KEYS_PER_PAGE),
                read_only=True,
            )
        except TrentError as error:
            return self._page(http, session, "keys.html", alert=_alert(error), rows=[], filters=filters, **_choices())
        rows: list[dict[str, Any]] = []
        for listed in page.items:
            row = await self._key_row(http, session, listed, filters)
            if row is not None:
                rows.append(row)
        next_url = None
        if page.next_position is not None:
            next_url = "/console/keys?" + urlencode(
                {**{k: v for k, v in filters.items() if v}, "marker": page.next_position}
            )
        first_url = "/console/keys?" + urlencode({k: v for k, v in filters.items() if v}) if marker else None
        filtered = any(filters.values())
        return self._page(
            http,
            session,
            "keys.html",
            rows=rows,
            filters=filters,
            next_url=next_url,
            first_url=first_url,
            filtered=filtered,
            scanned=len(page.items),
            **_choices(),
        )

    async def _key_row(
        self, http: HttpRequest, session: Session, listed: Key, filters: Mapping[str, str]
    ) -> dict[str, Any] | None:
        """One row: DescribeKey (the caller may see the key's id but not its metadata), then its aliases."""
        try:
            key = await self._kms_call(
                http,
                session,
                "DescribeKey",
                {"keyId": listed.key_id},
                lambda r: self._kms.management.describe_key(r, listed.key_id),
                read_only=True,
            )
        except TrentError as error:
            if any(filters.values()):
                return None  # nothing to filter on: a key the caller cannot describe matches no filter
            return {"key_id": listed.key_id, "error": error.code, "aliases": []}
        if not _matches(key, filters):
            return None
        aliases: list[str] = []
        try:
            page = await self._kms_call(
                http,
                session,
                "ListAliases",
                {"keyId": key.key_id},
                lambda r: self._kms.aliases.list_aliases(r, key.key_id, None, 100),
                read_only=True,
            )
            aliases = [a.alias_name for a in page.items]
        except TrentError:
            pass
        q = filters.get("q", "").lower()
        if q and not (q in key.key_id.lower() or q in key.description.lower() or any(q in a.lower() for a in aliases)):
            return None
        return {"key_id": key.key_id, "key": key, "aliases": aliases, "error": None}

    def _new_key_page(
        self, http: HttpRequest, session: Session, *, alert: str | None = None, status: int = 200
    ) -> HttpResponse:
        form = {
            name: http.field(name)
            for name in ("alias", "description", "key_spec", "key_usage", "origin", "tags", "policy", "multi_region")
        }
        return self._page(http, session, "key_new.html", status=status, alert=alert, form=form, **_choices())

    async def _create_key(self, http: HttpRequest, session: Session) -> HttpResponse:
        alias = http.field("alias").strip()
        if alias and not alias.startswith("alias/"):
            alias = "alias/" + alias
        if alias and (not _ALIAS_NAME.match(alias) or alias.startswith("alias/aws/")):
            return self._new_key_page(
                http,
                session,
                alert='ValidationException: An alias is "alias/" followed by letters, digits, "/", "_" or "-", '
                "and alias/aws/ is reserved for AWS managed keys.",
                status=400,
            )
        try:
            tags = _parse_tags(http.field("tags"))
        except ValueError as exc:
            return self._new_key_page(http, session, alert=f"ValidationException: {exc}", status=400)
        spec = http.field("key_spec") or "SYMMETRIC_DEFAULT"
        usage = http.field("key_usage") or None
        origin = http.field("origin") or "AWS_KMS"
        policy = http.field("policy").strip() or None
        multi_region = http.field("multi_region") in ("true", "on", "1")
        description = http.field("description")
        params: dict[str, Any] = {"keySpec": spec, "keyUsage": usage or "ENCRYPT_DECRYPT", "origin": origin}
        if description:
            params["description"] = description
        if multi_region:
            params["multiRegion"] = True
        if tags:
            params["tags"] = [{"tagKey": k, "tagValue": v} for k, v in tags]
        if policy:
            params["policy"] = policy

        def create(r: RequestContext) -> Key:
            key = self._kms.management.create_key(
                r,
                description=description or None,
                key_usage=usage,
                key_spec=spec,
                customer_master_key_spec=None,
                origin=origin,
                policy=policy,
                tags=tags,
                multi_region=multi_region,
                custom_key_store_id=None,
                xks_key_id=None,
            )
            r.response_elements = {"keyMetadata": _metadata_record(key)}
            return key

        try:
            key = await self._kms_call(http, session, "CreateKey", params, create, read_only=False)
        except TrentError as error:
            return self._new_key_page(http, session, alert=_alert(error), status=_status(error))
        if alias:
            try:
                await self._kms_call(
                    http,
                    session,
                    "CreateAlias",
                    {"aliasName": alias, "targetKeyId": key.key_id},
                    lambda r: self._kms.aliases.create_alias(r, alias, key.key_id),
                    read_only=False,
                )
            except TrentError as error:
                session.flash = f"The key was created, but its alias was not: {_alert(error)}"
                return redirect(f"/console/keys/{key.key_id}")
        session.flash = f"Key {key.key_id} created."
        return redirect(f"/console/keys/{key.key_id}")

    async def _key_page(
        self,
        http: HttpRequest,
        session: Session,
        key_id: str,
        *,
        alert: str | None = None,
        status: int = 200,
        policy_text: str | None = None,
        tags_text: str | None = None,
    ) -> HttpResponse:
        ref = {"keyId": key_id}
        try:
            key: Key = await self._kms_call(
                http,
                session,
                "DescribeKey",
                ref,
                lambda r: self._kms.management.describe_key(r, key_id),
                read_only=True,
            )
        except TrentError as error:
            return self._error_page(http, session, error, "Key")
        errors: dict[str, str] = {}
        aliases: list[str] = []
        try:
            page = await self._kms_call(
                http,
                session,
                "ListAliases",
                ref,
                lambda r: self._kms.aliases.list_aliases(r, key_id, None, 100),
                read_only=True,
            )
            aliases = [a.alias_name for a in page.items]
        except TrentError as error:
            errors["aliases"] = _alert(error)
        tags: dict[str, str] = {}
        try:
            tags = await self._kms_call(
                http,
                session,
                "ListResourceTags",
                ref,
                lambda r: self._kms.aliases.list_resource_tags(r, key_id),
                read_only=True,
            )
        except TrentError as error:
            errors["tags"] = _alert(error)
        policy = ""
        try:
            policy, _name = await self._kms_call(
                http,
                session,
                "GetKeyPolicy",
                {**ref, "policyName": "default"},
                lambda r: self._kms.management.get_key_policy(r, key_id, None),
                read_only=True,
            )
            policy = _pretty_json(policy)
        except TrentError as error:
            errors["policy"] = _alert(error)
        rotation = None
        rotations: list[Any] = []
        if key.supports_rotation and key.state is not KeyState.PENDING_IMPORT:
            try:
                rotation = await self._kms_call(
                    http,
                    session,
                    "GetKeyRotationStatus",
                    ref,
                    lambda r: self._kms.rotation.get_key_rotation_status(r, key_id),
                    read_only=True,
                )
                rotations_page = await self._kms_call(
                    http,
                    session,
                    "ListKeyRotations",
                    ref,
                    lambda r: self._kms.rotation.list_key_rotations(r, key_id, False, 0, 100),
                    read_only=True,
                )
                rotations = list(rotations_page.items)
            except TrentError as error:
                errors["rotation"] = _alert(error)
        grants: list[Any] = []
        try:
            grants_page = await self._kms_call(
                http,
                session,
                "ListGrants",
                ref,
                lambda r: self._kms.grants.list_grants(r, key_id, None, None, None, 100),
                read_only=True,
            )
            grants = list(grants_page.items)
        except TrentError as error:
            errors["grants"] = _alert(error)
        usage, usage_error = await self._usage(http, session, key.arn)
        tags_value = tags_text if tags_text is not None else "\n".join(f"{k}={v}" for k, v in sorted(tags.items()))
        return self._page(
            http,
            session,
            "key.html",
            status=status,
            alert=alert,
            key=key,
            aliases=aliases,
            tags=tags,
            tags_text=tags_value,
            policy_text=policy_text if policy_text is not None else policy,
            rotation=rotation,
            rotations=rotations,
            grants=grants,
            grant_operations=sorted(grantable_operations(key.key_spec, key.key_usage)),
            **_choices(),
            errors=errors,
            usage=usage,
            usage_error=usage_error,
            chart_svg=chart.svg(usage) if usage is not None else None,
            chart_colours=chart.colours(usage) if usage is not None else {},
        )

    def _simple_key_actions(self) -> dict[str, tuple[str, Callable[[RequestContext, str], object], str]]:
        """Actions that take only the key: (AWS operation, use case, what the page then says)."""
        management, rotation = self._kms.management, self._kms.rotation
        return {
            "disable": ("DisableKey", management.disable_key, "Key disabled."),
            "enable": ("EnableKey", management.enable_key, "Key enabled."),
            "cancel-deletion": (
                "CancelKeyDeletion",
                management.cancel_key_deletion,
                "Key deletion cancelled; the key is Disabled.",
            ),
            "rotation/disable": ("DisableKeyRotation", rotation.disable_key_rotation, "Automatic rotation disabled."),
            "rotate": ("RotateKeyOnDemand", rotation.rotate_key_on_demand, "On-demand rotation started."),
        }

    async def _key_action(self, http: HttpRequest, session: Session, key_id: str, action: str) -> HttpResponse:
        ref: dict[str, Any] = {"keyId": key_id}
        management, rotation = self._kms.management, self._kms.rotation
        try:
            simple = self._simple_key_actions().get(action)
            if simple is not None:
                operation, use_case, done = simple
                await self._kms_call(http, session, operation, ref, lambda r: use_case(r, key_id), read_only=False)
                session.flash = done
            elif action == "schedule-deletion":
                days_text = http.field("pending_window_days", "30").strip() or "30"
                if not days_text.isdigit():
                    raise ValidationException("The waiting period must be a whole number of days from 7 to 30.")
                days = int(days_text)
                await self._kms_call(
                    http,
                    session,
                    "ScheduleKeyDeletion",
                    {**ref, "pendingWindowInDays": days},
                    lambda r: management.schedule_key_deletion(r, key_id, days),
                    read_only=False,
                )
                session.flash = f"Key deletion scheduled in {days} days."
            elif action == "description":
                description = http.field("description")
                await self._kms_call(
                    http,
                    session,
                    "UpdateKeyDescription",
                    {**ref, "description": description},
                    lambda r: management.update_key_description(r, key_id, description),
                    read_only=False,
                )
                session.flash = "Description saved."
            elif action == "policy":
                text = http.field("policy")
                try:
                    await self._kms_call(
                        http,
                        session,
                        "PutKeyPolicy",
                        {**ref, "policyName": "default", "policy": text},
                        lambda r: management.put_key_policy(r, key_id, text, None, None),
                        read_only=False,
                    )
                except TrentError as error:
                    return await self._key_page(
                        http, session, key_id, alert=_alert(error), status=_status(error), policy_text=text
                    )
                session.flash = "Key policy saved."
            elif action == "tags":
                text = http.field("tags")
                try:
                    wanted = dict(_parse_tags(text))
                except ValueError as exc:
                    return await self._key_page(
                        http, session, key_id, alert=f"ValidationException: {exc}", status=400, tags_text=text
                    )
                try:
                    await self._save_tags(http, session, key_id, wanted)
                except TrentError as error:
                    return await self._key_page(
                        http, session, key_id, alert=_alert(error), status=_status(error), tags_text=text
                    )
                session.flash = "Tags saved."
            elif action == "rotation/enable":
                days_text = http.field("rotation_period_days", "365").strip() or "365"
                if not days_text.isdigit():
                    raise ValidationException("The rotation period must be a whole number of days from 90 to 2560.")
                period = int(days_text)
                await self._kms_call(
                    http,
                    session,
                    "EnableKeyRotation",
                    {**ref, "rotationPeriodInDays": period},
                    lambda r: rotation.enable_key_rotation(r, key_id, period),
                    read_only=False,
                )
                session.flash = f"Automatic rotation enabled every {period} days."
            elif action == "grants":
                grantee = http.field("grantee_principal").strip()
                operations = http.fields("operations")
                name = http.field("name").strip() or None
                params = {**ref, "granteePrincipal": grantee, "operations": operations} | (
                    {"name": name} if name else {}
                )
                await self._kms_call(
                    http,
                    session,
                    "CreateGrant",
                    params,
                    lambda r: self._kms.grants.create_grant(r, key_id, grantee, operations, None, None, name, False),
                    read_only=False,
                )
                session.flash = "Grant created."
            elif action == "grants/revoke":
                grant_id = http.field("grant_id")
                await self._kms_call(
                    http,
                    session,
                    "RevokeGrant",
                    {**ref, "grantId": grant_id},
                    lambda r: self._kms.grants.revoke_grant(r, key_id, grant_id, False),
                    read_only=False,
                )
                session.flash = "Grant revoked."
            elif action == "import-parameters":
                return await self._import_parameters(http, session, key_id)
            elif action == "import":
                await self._import_material(http, session, key_id)
                session.flash = "Key material imported."
            else:
                return self._page(http, session, "error.html", status=404, alert="Not found", title="Not found")
        except TrentError as error:
            return await self._key_page(http, session, key_id, alert=_alert(error), status=_status(error))
        return redirect(f"/console/keys/{key_id}")

    async def _import_parameters(self, http: HttpRequest, session: Session, key_id: str) -> HttpResponse:
        """GetParametersForImport: the wrapping public key (PEM) and the import token (base64), shown once."""
        algorithm = http.field("wrapping_algorithm") or "RSAES_OAEP_SHA_256"
        spec = http.field("wrapping_key_spec") or "RSA_2048"
        parameters = await self._kms_call(
            http,
            session,
            "GetParametersForImport",
            {"keyId": key_id, "wrappingAlgorithm": algorithm, "wrappingKeySpec": spec},
            lambda r: self._kms.imports.get_parameters_for_import(r, key_id, algorithm, spec),
            read_only=True,
        )
        return self._page(
            http,
            session,
            "import_parameters.html",
            key_id=key_id,
            algorithm=algorithm,
            spec=spec,
            public_key_pem=_pem(parameters.public_key),
            import_token=base64.b64encode(parameters.import_token).decode("ascii"),
            valid_to=parameters.valid_to,
        )

    async def _import_material(self, http: HttpRequest, session: Session, key_id: str) -> None:
        try:
            token = base64.b64decode(http.field("import_token").strip(), validate=True)
            material = base64.b64decode(http.field("encrypted_key_material").strip(), validate=True)
        except ValueError:
            raise ValidationException("The import token and the wrapped key material must be base64.") from None
        expiration = http.field("expiration_model") or "KEY_MATERIAL_DOES_NOT_EXPIRE"
        valid_to = None
        if expiration == "KEY_MATERIAL_EXPIRES":
            try:
                valid_to = _parse_time(http.field("valid_to").strip())
            except ValueError:
                raise ValidationException("Valid to is a time like 2030-01-31T13:45 (UTC).") from None
        params: dict[str, Any] = {"keyId": key_id, "expirationModel": expiration}
        if valid_to is not None:
            params["validTo"] = valid_to.isoformat()
        await self._kms_call(
            http,
            session,
            "ImportKeyMaterial",
            params,
            lambda r: self._kms.imports.import_key_material(
                r, key_id, token, material, valid_to, expiration, None, None, None
            ),
            read_only=False,
        )

    async def _save_tags(self, http: HttpRequest, session: Session, key_id: str, wanted: dict[str, str]) -> None:
        """Make the key's tags exactly ``wanted``: UntagResource for those gone, TagResource for the rest."""
        ref = {"keyId": key_id}
        current: dict[str, str] = await self._kms_call(
            http,
            session,
            "ListResourceTags",
            ref,
            lambda r: self._kms.aliases.list_resource_tags(r, key_id),
            read_only=True,
        )
        gone = sorted(set(current) - set(wanted))
        changed = [(k, v) for k, v in sorted(wanted.items()) if current.get(k) != v]
        if changed:
            await self._kms_call(
                http,
                session,
                "TagResource",
                {**ref, "tags": [{"tagKey": k, "tagValue": v} for k, v in changed]},
                lambda r: self._kms.aliases.tag_resource(r, key_id, changed),
                read_only=False,
            )
        if gone:
            await self._kms_call(
                http,
                session,
                "UntagResource",
                {**ref, "tagKeys": gone},
                lambda r: self._kms.aliases.untag_resource(r, key_id, gone),
                read_only=False,
            )

    async def _public_key(self, http: HttpRequest, session: Session, key_id: str) -> HttpResponse:
        try:
            result = await self._kms_call(
                http,
                session,
                "GetPublicKey",
                {"keyId": key_id},
                lambda r: self._kms.asymmetric.get_public_key(r, key_id),
                read_only=True,
            )
        except TrentError as error:
            return self._error_page(http, session, error, "Public key")
        pem = _pem(result.public_key)
        return HttpResponse(
            200,
            pem.encode(),
            b"application/x-pem-file",
            [(b"content-disposition", f'attachment; filename="{key_id}.pem"'.encode())],
        )

    # ------------------------------------------------------------------ aliases

    async def _aliases_page(self, http: HttpRequest, session: Session, *, alert: str | None = None) -> HttpResponse:
        marker = http.arg("marker") or None
        params = {"limit": 100} | ({"marker": marker} if marker else {})
        customer: list[Any] = []
        managed: list[Any] = []
        next_url = None
        try:
            page = await self._kms_call(
                http,
                session,
                "ListAliases",
                params,
                lambda r: self._kms.aliases.list_aliases(r, None, marker, 100),
                read_only=True,
            )
            for alias in page.items:
                target = alias.target_key_id if isinstance(alias, Alias) else None
                entry = {"name": alias.alias_name, "target": target}
                (managed if alias.alias_name.startswith("alias/aws/") else customer).append(entry)
            if page.next_position is not None:
                next_url = "/console/aliases?" + urlencode({"marker": page.next_position})
        except TrentError as error:
            alert = alert or _alert(error)
        return self._page(
            http, session, "aliases.html", alert=alert, customer=customer, managed=managed, next_url=next_url
        )

    async def _create_alias(self, http: HttpRequest, session: Session) -> HttpResponse:
        name = http.field("alias_name").strip()
        if name and not name.startswith("alias/"):
            name = "alias/" + name
        target = http.field("target_key_id").strip()
        try:
            await self._kms_call(
                http,
                session,
                "CreateAlias",
                {"aliasName": name, "targetKeyId": target},
                lambda r: self._kms.aliases.create_alias(r, name, target),
                read_only=False,
            )
        except TrentError as error:
            return await self._aliases_page(http, session, alert=_alert(error))
        session.flash = f"Alias {name} created."
        return redirect("/console/aliases")

    async def _delete_alias(self, http: HttpRequest, session: Session) -> HttpResponse:
        name = http.field("alias_name").strip()
        try:
            await self._kms_call(
                http,
                session,
                "DeleteAlias",
                {"aliasName": name},
                lambda r: self._kms.aliases.delete_alias(r, name),
                read_only=False,
            )
        except TrentError as error:
            return await self._aliases_page(http, session, alert=_alert(error))
        session.flash = f"Alias {name} deleted."
        return redirect("/console/aliases")

    # ------------------------------------------------------------------ identities

    async def _identities_page(
        self,
        http: HttpRequest,
        session: Session,
        *,
        alert: str | None = None,
        status: int = 200,
        new_key: Any = None,
    ) -> HttpResponse:
        iam = self._iam
        errors: dict[str, str] = {}
        users: list[dict[str, Any]] = []
        roles: list[Any] = []
        own_keys: list[Any] = []
        try:
            page = await self._call(
                http,
                session,
                IAM,
                "ListUsers",
                None,
                lambda r: iam.list_users(r.caller, None, None, 100),
                read_only=True,
            )
            for user in page.items:
                entry: dict[str, Any] = {"user": user, "keys": [], "policies": []}
                name = user.user_name
                try:
                    entry["keys"] = await self._call(
                        http,
                        session,
                        IAM,
                        "ListAccessKeys",
                        {"userName": user.user_name},
                        lambda r: iam.list_access_keys(r.caller, name),  # noqa: B023 - awaited at once
                        read_only=True,
                    )
                    entry["policies"] = await self._call(
                        http,
                        session,
                        IAM,
                        "ListUserPolicies",
                        {"userName": user.user_name},
                        lambda r: iam.list_user_policies(r.caller, name),  # noqa: B023 - awaited at once
                        read_only=True,
                    )
                except TrentError as error:
                    entry["error"] = _alert(error)
                users.append(entry)
        except TrentError as error:
            errors["users"] = _alert(error)
        try:
            roles_page = await self._call(
                http,
                session,
                IAM,
                "ListRoles",
                None,
                lambda r: iam.list_roles(r.caller, None, None, 100),
                read_only=True,
            )
            roles = list(roles_page.items)
        except TrentError as error:
            errors["roles"] = _alert(error)
        try:
            own_keys = await self._call(
                http,
                session,
                IAM,
                "ListAccessKeys",
                None,
                lambda r: iam.list_access_keys(r.caller, None),
                read_only=True,
            )
        except TrentError as error:
            errors["own_keys"] = _alert(error)
        return self._page(
            http,
            session,
            "identities.html",
            status=status,
            alert=alert,
            users=users,
            roles=roles,
            own_keys=own_keys,
            errors=errors,
            new_key=new_key,
        )

    async def _create_user(self, http: HttpRequest, session: Session) -> HttpResponse:
        name = http.field("user_name").strip()
        try:
            await self._call(
                http,
                session,
                IAM,
                "CreateUser",
                {"userName": name},
                lambda r: self._iam.create_user(r.caller, name),
                read_only=False,
            )
        except TrentError as error:
            return await self._identities_page(http, session, alert=_alert(error), status=_status(error))
        session.flash = f"User {name} created."
        return redirect("/console/identities")

    async def _create_access_key(self, http: HttpRequest, session: Session) -> HttpResponse:
        user_name = http.field("user_name").strip() or None

        def create(r: RequestContext) -> Any:
            key = self._iam.create_access_key(r.caller, user_name)
            # The record names the key, never its secret.
            r.response_elements = {
                "accessKey": {"accessKeyId": key.access_key_id, "status": key.status, "userName": key.user_name}
            }
            return key

        try:
            new_key = await self._call(
                http,
                session,
                IAM,
                "CreateAccessKey",
                {"userName": user_name} if user_name else None,
                create,
                read_only=False,
            )
        except TrentError as error:
            return await self._identities_page(http, session, alert=_alert(error), status=_status(error))
        return self._page(http, session, "access_key_created.html", new_key=new_key)

    async def _put_user_policy(self, http: HttpRequest, session: Session) -> HttpResponse:
        user_name = http.field("user_name").strip()
        policy_name = http.field("policy_name").strip()
        document = http.field("policy_document")
        try:
            await self._call(
                http,
                session,
                IAM,
                "PutUserPolicy",
                {"userName": user_name, "policyName": policy_name, "policyDocument": document},
                lambda r: self._iam.put_user_policy(r.caller, user_name, policy_name, document),
                read_only=False,
            )
        except TrentError as error:
            return await self._identities_page(http, session, alert=_alert(error), status=_status(error))
        session.flash = f"Policy {policy_name} saved for {user_name}."
        return redirect("/console/identities")

    # ------------------------------------------------------------------ audit and usage

    async def _lookup(
        self,
        http: HttpRequest,
        session: Session,
        attribute: tuple[str, str] | None,
        start: datetime | None,
        end: datetime | None,
        before: int | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int | None]:
        params: dict[str, Any] = {"maxResults": limit}
        if attribute is not None:
            params["lookupAttributes"] = [{"attributeKey": attribute[0], "attributeValue": attribute[1]}]
        if start is not None:
            params["startTime"] = start.isoformat()
        if end is not None:
            params["endTime"] = end.isoformat()

        def lookup(r: RequestContext) -> tuple[list[tuple[int, bytes]], int | None]:
            return self._audit.lookup_as(r.caller, LookupQuery(r.caller.region, attribute, start, end, before, limit))

        rows, more = await self._call(http, session, CLOUDTRAIL, "LookupEvents", params, lookup, read_only=True)
        return [json.loads(record) for _seq, record in rows], more

    async def _usage(
        self, http: HttpRequest, session: Session, resource: str | None
    ) -> tuple[chart.Usage | None, str | None]:
        now = datetime.now(UTC)
        attribute = ("ResourceName", resource) if resource else None
        try:
            records, more = await self._lookup(
                http, session, attribute, now - timedelta(minutes=60), now, None, USAGE_LIMIT
            )
        except TrentError as error:
            return None, _alert(error)
        usage = chart.usage_from_records(records, now)
        usage.truncated = more is not None
        return usage, None

    async def _usage_page(self, http: HttpRequest, session: Session) -> HttpResponse:
        usage, error = await self._usage(http, session, None)
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
        filters = {name: http.arg(name) for name in ("start", "end", "event_name", "user", "resource")}
        alert = None
        try:
            start = _parse_time(filters["start"])
            end = _parse_time(filters["end"])
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
        before_text = http.arg("before")
        before = int(before_text) if before_text.isdigit() and len(before_text) <= 18 else None
        # LookupEvents takes one attribute; the others filter the page it returns.
        wanted = [
            ("EventName", filters["event_name"]),
            ("Username", filters["user"]),
            ("ResourceName", filters["resource"]),
        ]
        wanted = [(k, v) for k, v in wanted if v]
        attribute = wanted[0] if wanted else None
        events: list[dict[str, Any]] = []
        more = None
        verify = None
        try:
            records, more = await self._lookup(http, session, attribute, start, end, before, AUDIT_PER_PAGE)
            events = [_event_row(record) for record in records]
            for key, value in wanted[1:]:
                events = [e for e in events if _event_has(e, key, value)]
            # The chain check reads the whole trail: off the event loop.
            verify = await asyncio.to_thread(self._audit.verify)
        except TrentError as error:
            alert = _alert(error)
        next_url = None
        if more is not None:
            next_url = "/console/audit?" + urlencode({**{k: v for k, v in filters.items() if v}, "before": more})
        return self._page(
            http,
            session,
            "audit.html",
            alert=alert,
            events=events,
            filters=filters,
            verify=verify,
            next_url=next_url,
        )

    async def _event_page(self, http: HttpRequest, session: Session, event_id: str) -> HttpResponse:
        if not re.fullmatch(r"[0-9a-fA-F-]{1,64}", event_id):
            return self._page(http, session, "error.html", status=404, alert="Not found", title="Not found")
        try:
            records, _more = await self._lookup(http, session, ("EventId", event_id), None, None, None, 1)
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


# ---------------------------------------------------------------------- helpers


def _alert(error: TrentError) -> str:
    return f"{error.code}: {error.message}" if error.message else error.code


def _status(error: TrentError) -> int:
    if isinstance(error, AccessDeniedException):
        return 403
    if isinstance(error, NotFoundException):
        return 404
    return 400


def _choices() -> dict[str, Any]:
    return {
        "key_specs": KEY_SPECS,
        "key_usages": KEY_USAGES,
        "origins": ORIGINS,
        "states": STATES,
        "wrapping_algorithms": WRAPPING_ALGORITHMS,
        "wrapping_key_specs": WRAPPING_KEY_SPECS,
    }


def _matches(key: Key, filters: Mapping[str, str]) -> bool:
    if filters.get("state") and key.state.value != filters["state"]:
        return False
    if filters.get("spec") and key.key_spec != filters["spec"]:
        return False
    if filters.get("usage") and key.key_usage != filters["usage"]:
        return False
    if filters.get("origin") and key.origin != filters["origin"]:
        return False
    region_filter = filters.get("multi_region")
    return not (region_filter in ("true", "false") and key.multi_region != (region_filter == "true"))


def _parse_tags(text: str) -> list[tuple[str, str]]:
    tags: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"Tag line {number} is not key=value.")
        tags.append((key.strip(), value.strip()))
    return tags


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


def _metadata_record(key: Key) -> dict[str, Any]:
    return {
        "keyId": key.key_id,
        "arn": key.arn,
        "keyState": key.state.value,
        "keySpec": key.key_spec,
        "keyUsage": key.key_usage,
        "origin": key.origin,
        "multiRegion": key.multi_region,
    }


def _pem(der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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


def _event_has(event: Mapping[str, Any], attribute: str, value: str) -> bool:
    if attribute == "EventName":
        return bool(event["name"] == value)
    if attribute == "Username":
        return bool(event["user"] == value)
    return value in event["resources"]
