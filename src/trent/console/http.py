"""The console's bit of HTTP: one request in, one response out, over bare ASGI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from python_multipart import create_form_parser
from python_multipart.exceptions import FormParserError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_FORM_BYTES = 1024 * 1024
COOKIE = "trent_console"
# Before there is a session: the sign-in forms' CSRF token, also kept in this cookie (double submit).
SIGN_IN_COOKIE = "trent_console_sign_in"

# Nothing is loaded from elsewhere, no script runs, no page frames this one.
_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class FormTooLargeError(Exception):
    pass


class BadFormError(Exception):
    """A multipart body that does not parse."""


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    cookies: dict[str, str]
    secure: bool
    client_ip: str
    form: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # multipart uploads, by field name

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0].strip() if values else default

    def field(self, name: str, default: str = "") -> str:
        values = self.form.get(name)
        return values[0] if values else default

    def fields(self, name: str) -> list[str]:
        return self.form.get(name, [])

    def file(self, name: str) -> bytes:
        """An uploaded file's bytes; empty when none was chosen."""
        return self.files.get(name, b"")

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: bytes = b"text/html; charset=utf-8"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


async def read_request(scope: Scope, receive: Receive) -> HttpRequest:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        key, text = name.decode("latin-1"), value.decode("latin-1")
        headers[key] = f"{headers[key]}; {text}" if key == "cookie" and key in headers else text
    cookies: dict[str, str] = {}
    if "cookie" in headers:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers["cookie"])
        except Exception:  # noqa: BLE001 - a malformed cookie header is no cookie
            jar = SimpleCookie()
        cookies = {name: morsel.value for name, morsel in jar.items()}
    client = scope.get("client")
    method = scope.get("method", "GET")
    request = HttpRequest(
        method=method,
        path=scope.get("path", ""),
        query=parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True),
        headers=headers,
        cookies=cookies,
        secure=scope.get("scheme") == "https",
        client_ip=client[0] if client else "",
    )
    if method == "POST":
        body = await _read_body(receive, headers)
        if headers.get("content-type", "").lower().startswith("multipart/form-data"):
            request.form, request.files = _parse_multipart(headers, body)
        else:
            request.form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return request


def _parse_multipart(headers: dict[str, str], body: bytes) -> tuple[dict[str, list[str]], dict[str, bytes]]:
    form: dict[str, list[str]] = {}
    files: dict[str, bytes] = {}

    def on_field(item: Any) -> None:
        name = item.field_name.decode("utf-8", errors="replace")
        form.setdefault(name, []).append((item.value or b"").decode("utf-8", errors="replace"))

    def on_file(item: Any) -> None:
        item.file_object.seek(0)
        files[item.field_name.decode("utf-8", errors="replace")] = item.file_object.read()

    multipart_headers = {"Content-Type": headers["content-type"].encode("latin-1")}
    # Uploads stay in memory (the body is at most MAX_FORM_BYTES): wrapped key material and import
    # tokens are never written to a temporary file.
    config = {"MAX_MEMORY_FILE_SIZE": MAX_FORM_BYTES + 1, "MAX_BODY_SIZE": MAX_FORM_BYTES}
    try:
        parser = create_form_parser(multipart_headers, on_field, on_file, config=config)
        parser.write(body)
        parser.finalize()
    except (FormParserError, ValueError) as exc:
        raise BadFormError(str(exc)) from None
    return form, files


async def _read_body(receive: Receive, headers: dict[str, str]) -> bytes:
    declared = headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise FormTooLargeError
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise FormTooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def redirect(location: str, status: int = 303) -> HttpResponse:
    return HttpResponse(status, b"", b"text/plain; charset=utf-8", [(b"location", location.encode())])


def session_cookie(value: str, *, secure: bool, max_age: int | None = None, name: str = COOKIE) -> tuple[bytes, bytes]:
    parts = [f"{name}={value}", "Path=/console", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return b"set-cookie", "; ".join(parts).encode()


async def send_response(send: Send, response: HttpResponse) -> None:
    headers = [
        (b"content-type", response.content_type),
        (b"content-length", str(len(response.body)).encode()),
        (b"cache-control", b"no-store"),
        *_SECURITY_HEADERS,
        *response.headers,
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
