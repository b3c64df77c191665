"""The ASGI application: AWS JSON 1.1 over a bare ASGI interface (no framework on the hot path).

The request pipeline, in order (each step answers with an AWS-shaped error when it fails):
  1. size-capped body read (> 1 MiB is refused without reading the rest)
  2. operation lookup from X-Amz-Target                       UnknownOperationException
  3. SigV4 authentication                                      Missing/Incomplete/InvalidSignature...
  4. JSON decode + model validation (botocore's model)         SerializationException, ValidationException
  5. handler -> service (resolve key, authorize, check state, work)
  6. response encoding; every response carries x-amzn-RequestId
Unexpected exceptions become KMSInternalException (500) with the request id, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import orjson

from trent import __version__
from trent.api import sigv4
from trent.api.audit_records import RecordShaper, is_read_only
from trent.api.codec import OperationCodec, ServiceCodec
from trent.api.errors import status_for
from trent.api.handlers.kms import HANDLERS, Handler, not_yet_supported
from trent.api.query import decode_form, is_read_only_action, record_parameters
from trent.domain.audit import TRACKED_OPERATIONS, random_uuid
from trent.domain.errors import (
    InvalidSignatureException,
    KMSInternalException,
    RequestTimeoutException,
    TrentError,
    UnknownOperationException,
    ValidationException,
)
from trent.domain.grants import grant_id_from_token
from trent.domain.identity import Caller
from trent.domain.ids import account_root_arn
from trent.services.audit import AuditService
from trent.services.audit_broker import AuditBroker
from trent.services.identity import IdentityService
from trent.services.kms import Kms
from trent.services.request import RequestContext, RequestObserver
from trent.services.throttling import Throttle

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# An operator route (/_trent/health, /metrics, ...): body and headers in, status, body and content type out.
Route = Callable[[bytes, Mapping[str, str]], Awaitable[tuple[int, bytes, bytes]]]

MAX_BODY_BYTES = 1024 * 1024
_MAX_KNOWN_CALLERS = 10_000
KMS_TARGET_PREFIX = "TrentService."
CLOUDTRAIL_TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
KMS_SOURCE = "kms.amazonaws.com"
CLOUDTRAIL_SOURCE = "cloudtrail.amazonaws.com"
# Request members that name a key, for the record's resources when the response names none.
_KEY_REFERENCE_MEMBERS = ("KeyId", "TargetKeyId", "SourceKeyId", "DestinationKeyId")
# CloudTrail names the alias's key in these records (responseElements.keyId), though the API does not.
_ALIAS_OPERATIONS = frozenset({"CreateAlias", "UpdateAlias", "DeleteAlias"})
_Result = TypeVar("_Result")
_JSON_CONTENT_TYPE = b"application/x-amz-json-1.1"

log = logging.getLogger("trent.api")

_ABOUT = (
    f"This is Trent {__version__}, a key management service that speaks the AWS KMS API: POST / with "
    "X-Amz-Target: TrentService.<Operation> (AWS JSON 1.1), signed with SigV4 (also CloudTrail LookupEvents, "
    "STS and IAM). Point an AWS SDK or the AWS CLI at this endpoint (--endpoint-url / AWS_ENDPOINT_URL_KMS). "
    "Documentation: README.md and docs/ in the Trent distribution. Health: /_trent/health, readiness: "
    "/_trent/ready, metrics: /metrics."
)


def _not_served(path: str) -> str:
    if path.startswith("/_trent/dev/"):
        return f"{path} is served only by a --dev server."
    return f"{path} is not a Trent path. Operator paths: /_trent/health, /_trent/ready, /metrics."


class _BodyTooLargeError(Exception):
    pass


class QueryProtocolHandler(Protocol):
    """Serves AWS query-protocol services (STS, IAM) on the same endpoint: form in, XML out."""

    services: frozenset[str]  # signing names it serves, e.g. {"sts", "iam"}

    def handle(self, service: str, request: RequestContext, body: bytes, request_id: str) -> tuple[int, bytes]:
        """Status and XML body (and the request's responseElements); TrentErrors may propagate and are
        rendered by ``render_error``."""
        ...

    def render_error(self, error: TrentError, request_id: str) -> tuple[int, bytes]: ...


class CloudTrailHandler(Protocol):
    """Serves CloudTrail's JSON protocol (LookupEvents, ...) on the same endpoint."""

    codec: ServiceCodec
    shaper: RecordShaper

    def decode(self, operation: str, body: bytes) -> dict[str, Any]: ...

    def handle(self, operation: str, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any] | None: ...


_CREDENTIAL = re.compile(r"Credential=([^/,\s]*)/\d{8}/([^/,\s]*)/")
_CREDENTIAL_SERVICE = re.compile(r"Credential=[^/,\s]*/\d{8}/[^/,\s]*/([^/,\s]+)/aws4_request")
_JSON = _JSON_CONTENT_TYPE
_XML = b"text/xml"


@dataclass
class ApiConfig:
    dev: bool
    account_id: str
    # Extra routes for operators and tests (health, dev clock): path -> async handler.
    extra_routes: Mapping[str, Route] = field(default_factory=dict)
    # Long-running tasks (the deletion sweeper) started with the server, cancelled at shutdown.
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # Told of every request once it is answered (metrics, access log).
    observers: Sequence[RequestObserver] = ()
    # Request quotas (None: none apply), and the Regions this server serves (None: any).
    throttle: Throttle | None = None
    regions: frozenset[str] | None = None
    # The web console (trent.console), an ASGI app answering every path under /console.
    console: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None


@dataclass(slots=True)
class _Progress:
    """How far a request got: which protocol answers its errors, and whether the broker saw it."""

    query_service: str | None = None
    observed: bool = False


class KmsApi:
    """An ASGI application serving the KMS JSON protocol."""

    def __init__(
        self,
        config: ApiConfig,
        kms: Kms,
        identities: IdentityService,
        audit: AuditService,
        query: QueryProtocolHandler | None = None,
        cloudtrail: CloudTrailHandler | None = None,
    ) -> None:
        self._config = config
        self._kms = kms
        self._identities = identities
        self._broker = AuditBroker(audit, config.observers)
        self._query = query
        self._cloudtrail = cloudtrail
        self._codec = ServiceCodec("kms")
        self._kms_shaper = RecordShaper(self._codec.model)
        self._callers: dict[tuple[str, str, str, str, bool], tuple[object, Caller]] = {}
        self._handlers: dict[str, Handler] = {
            name: HANDLERS.get(name) or not_yet_supported(name) for name in self._codec.operation_names
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        console = self._config.console
        if console is not None and _is_console_path(scope.get("path", "")):
            await console(scope, receive, send)
            return
        request_id = random_uuid()
        progress = _Progress()
        error: TrentError | None = None
        try:
            status, body, content_type = await self._handle(scope, receive, request_id, progress)
        except TrentError as exc:
            error = exc
            status, body, content_type = self._render_error(exc, request_id, progress)
        except Exception:
            log.exception("internal error handling request %s", request_id)
            error = KMSInternalException.internal()
            status, body, content_type = self._render_error(error, request_id, progress)
        if error is not None and not progress.observed:
            self._observe_edge(scope, request_id, error)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-amzn-requestid", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _observe_edge(self, scope: Scope, request_id: str, error: TrentError) -> None:
        """A request refused before it named an operation (unknown target, body too large, ...)."""
        client = scope.get("client")
        request = RequestContext(
            request_id=request_id,
            event_source="",
            operation="",
            read_only=True,
            source_ip=client[0] if client else "",
        )
        for observer in self._config.observers:
            observer.request_finished(request, error)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        tasks: list[asyncio.Task[None]] = []
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                tasks = [asyncio.create_task(job()) for job in self._config.background]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _render_error(self, error: TrentError, request_id: str, progress: _Progress) -> tuple[int, bytes, bytes]:
        if progress.query_service is not None and self._query is not None:
            status, body = self._query.render_error(error, request_id)
            return status, body, _XML
        return status_for(error.code), _error_body(error), _JSON

    async def _handle(
        self, scope: Scope, receive: Receive, request_id: str, progress: _Progress
    ) -> tuple[int, bytes, bytes]:
        headers = _headers(scope)
        path = scope.get("path", "")
        if path != "/":
            extra = self._config.extra_routes.get(path)
            if extra is not None:
                return await extra(await self._body(receive, headers), headers)
            if path.startswith("/_trent/"):
                raise UnknownOperationException(_not_served(path))
        if self._query is not None and "x-amz-target" not in headers:
            match = _CREDENTIAL_SERVICE.search(headers.get("authorization", ""))
            if match is not None and match.group(1) in self._query.services:
                progress.query_service = match.group(1)
            elif headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                # A form body without a usable signature is still a query-protocol request: answer in
                # XML (the authentication error follows). STS is the service clients expect there.
                progress.query_service = "sts"
        body = await self._body(receive, headers)
        if progress.query_service is not None and self._query is not None:
            progress.observed = True
            return await self._query_request(scope, headers, body, request_id, progress.query_service)

        target = headers.get("x-amz-target", "")
        if target.startswith(CLOUDTRAIL_TARGET_PREFIX) and self._cloudtrail is not None:
            progress.observed = True
            return await self._cloudtrail_request(scope, headers, body, request_id, target)
        operation = target[len(KMS_TARGET_PREFIX) :] if target.startswith(KMS_TARGET_PREFIX) else ""
        codec = self._codec.operation(operation) if operation else None
        if codec is None or scope.get("method") != "POST":
            # An API call AWS does not know gets its bare answer; anything else (a browser, curl
            # without a target) is told what this endpoint is.
            raise UnknownOperationException("" if target else _ABOUT)
        progress.observed = True
        return await self._kms_request(scope, headers, body, request_id, operation, codec)

    async def _body(self, receive: Receive, headers: Mapping[str, str]) -> bytes:
        try:
            return await _read_body(receive, headers)
        except _BodyTooLargeError:
            raise ValidationException(f"Request body must be no larger than {MAX_BODY_BYTES} bytes.") from None

    # ----------------------------------------------------------------- audited protocols

    def _request(
        self, scope: Scope, headers: Mapping[str, str], request_id: str, source: str, operation: str, *, read_only: bool
    ) -> RequestContext:
        """The request's context, made before anything can fail so that every failure is recorded."""
        client = scope.get("client")
        return RequestContext(
            request_id=request_id,
            event_source=source,
            operation=operation,
            read_only=read_only,
            source_ip=client[0] if client else "",
            user_agent=headers.get("user-agent", ""),
        )

    def _sign_in(
        self,
        request: RequestContext,
        scope: Scope,
        headers: Mapping[str, str],
        body: bytes,
        service: str,
        change_token: int | None = None,
    ) -> None:
        """Authenticate the request; when that fails, its record shows what the signature claimed."""
        try:
            request.authenticate(self._authenticate(scope, headers, body, service, change_token))
        except TrentError:
            match = _CREDENTIAL.search(headers.get("authorization", ""))
            if match is not None:
                request.claimed_access_key_id = match.group(1)
                request.claimed_region = match.group(2) or request.claimed_region
            raise

    async def _kms_request(
        self,
        scope: Scope,
        headers: dict[str, str],
        body: bytes,
        request_id: str,
        operation: str,
        codec: OperationCodec,
    ) -> tuple[int, bytes, bytes]:
        request = self._request(scope, headers, request_id, KMS_SOURCE, operation, read_only=is_read_only(operation))
        request.tracked = operation in TRACKED_OPERATIONS
        handler = self._handlers[operation]

        def work() -> dict[str, Any] | None:
            change_token = self._kms.change_token()
            self._sign_in(request, scope, headers, body, "kms", change_token)
            if self._config.throttle is not None:
                self._config.throttle.admit(request.caller.account_id, request.caller.region, operation)
            params = codec.decode(body)
            request.request_parameters = self._kms_shaper.request_parameters(operation, params)
            for token in params.get("GrantTokens") or ():
                grant_id_from_token(token)  # InvalidGrantTokenException for a malformed token
            self._kms.begin_request(change_token)
            result = handler(self._kms, request, params)
            if request.response_elements is None:
                request.response_elements = self._kms_shaper.response_elements(operation, result)
            return result

        result = await self._broker.run(request, work)
        return 200, codec.encode(result), _JSON

    async def _query_request(
        self, scope: Scope, headers: dict[str, str], body: bytes, request_id: str, service: str
    ) -> tuple[int, bytes, bytes]:
        assert self._query is not None  # noqa: S101 - checked by the caller
        query = self._query
        try:
            fields = decode_form(body)
        except TrentError:
            fields = {}  # the handler answers the malformed form in its service's own words
        action = fields.get("Action", "")
        request = self._request(
            scope,
            headers,
            request_id,
            f"{service}.amazonaws.com",
            action,
            read_only=is_read_only_action(action),
        )
        outcome: list[tuple[int, bytes]] = []

        request.request_parameters = record_parameters(fields)

        def work() -> None:
            self._sign_in(request, scope, headers, body, service)
            outcome.append(query.handle(service, request, body, request_id))

        if not action:
            work()  # MissingAction and friends: not an operation, nothing to record
        else:
            await self._broker.run(request, work)
        status, payload = outcome[0]
        return status, payload, _XML

    async def _cloudtrail_request(
        self, scope: Scope, headers: dict[str, str], body: bytes, request_id: str, target: str
    ) -> tuple[int, bytes, bytes]:
        assert self._cloudtrail is not None  # noqa: S101 - checked by the caller
        cloudtrail = self._cloudtrail
        operation = target[len(CLOUDTRAIL_TARGET_PREFIX) :]
        codec = cloudtrail.codec.operation(operation)
        if codec is None or scope.get("method") != "POST":
            raise UnknownOperationException("")
        request = self._request(scope, headers, request_id, CLOUDTRAIL_SOURCE, operation, read_only=True)

        def work() -> dict[str, Any] | None:
            self._sign_in(request, scope, headers, body, "cloudtrail")
            params = cloudtrail.decode(operation, body)
            request.request_parameters = cloudtrail.shaper.request_parameters(operation, params)
            return cloudtrail.handle(operation, request.caller, params)

        result = await self._broker.run(request, work)
        return 200, codec.encode(result), _JSON

    def _authenticate(
        self, scope: Scope, headers: Mapping[str, str], body: bytes, service: str, change_token: int | None = None
    ) -> Caller:
        parsed = sigv4.parse_authorization(headers, datetime.now(UTC), service)
        regions = self._config.regions
        if regions is not None and parsed.region not in regions and service != "iam":
            # A signature scoped to a Region this endpoint does not serve (mars-north-9): AWS's endpoints
            # refuse it rather than opening an empty key space.
            raise InvalidSignatureException(f"Credential should be scoped to a valid region, not '{parsed.region}'.")
        client = scope.get("client")
        source_ip = client[0] if client else ""
        user_agent = headers.get("user-agent", "")
        if self._config.dev:
            account_id = self._config.account_id
            return Caller(
                account_id=account_id,
                arn=account_root_arn(account_id, parsed.region),
                principal_type="Root",
                region=parsed.region,
                access_key_id=parsed.access_key_id,
                source_ip=source_ip,
                user_agent=user_agent,
                secure_transport=scope.get("scheme") == "https",
            )
        secret, principal = self._identities.lookup(parsed.access_key_id, parsed.session_token, change_token)
        query = scope.get("query_string", b"").decode("latin-1")
        sigv4.verify_signature(
            parsed,
            secret,
            scope.get("method", ""),
            scope.get("raw_path", b"/").decode("latin-1") or "/",
            query,
            headers,
            body,
        )
        secure = scope.get("scheme") == "https"
        # A client sends request after request as the same caller: reuse its (immutable) Caller
        # while the principal behind the key is the very object the identity cache returned.
        seen = (parsed.access_key_id, parsed.region, source_ip, user_agent, secure)
        known = self._callers.get(seen)
        if known is not None and known[0] is principal:
            return known[1]
        caller = principal.caller(
            region=parsed.region,
            access_key_id=parsed.access_key_id,
            source_ip=source_ip,
            user_agent=user_agent,
            secure_transport=secure,
        )
        if len(self._callers) >= _MAX_KNOWN_CALLERS:
            self._callers.clear()
        self._callers[seen] = (principal, caller)
        return caller


def _is_console_path(path: str) -> bool:
    return path == "/console" or path.startswith("/console/")


def _headers(scope: Scope) -> dict[str, str]:
    # ASGI gives lowercase names; repeated headers are joined as HTTP allows.
    out: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        out[key] = f"{out[key]},{text}" if key in out else text
    return out


async def _read_body(receive: Receive, headers: Mapping[str, str]) -> bytes:
    """The body, refused beyond MAX_BODY_BYTES. Its deadline is the protocol's (api/http_protocol.py):
    a client too slow to send it is answered 408 there, and this sees the disconnect."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestTimeoutException.body_too_slow()  # gone before the body was complete
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _error_body(error: TrentError) -> bytes:
    # AWS leaves the member out, rather than sending "", where it has nothing to say.
    if not error.message:
        return orjson.dumps({"__type": error.code})
    return orjson.dumps({"__type": error.code, "message": error.message})
