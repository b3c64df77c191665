"""uvicorn's httptools protocol with deadlines for a request's headers and body.

uvicorn closes idle keep-alive connections, but a client that opens a connection and then sends
its request a byte at a time (slowloris), or announces a body it never sends, holds the
connection, and a socket, for as long as it likes. Here a request's headers must be complete
within ``TRENT_HEADER_TIMEOUT_SECONDS`` (default 10) of its first byte (or of connecting), and its
body within ``TRENT_BODY_TIMEOUT_SECONDS`` of its headers; otherwise the connection is closed, with an AWS-shaped
408 RequestTimeoutException when the request was already under way.

One sweeper per event loop checks every connection once a second, instead of a timer per
request: a timer armed and cancelled per request cost more than the rest of this module.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
import weakref
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_TIMEOUT_SECONDS = 10.0
_TIMEOUT_BODY = (
    b'{"__type":"RequestTimeoutException","message":"Your socket connection to the server was not read '
    b'from or written to within the timeout period."}'
)

_connections: weakref.WeakSet[GuardedHttpToolsProtocol] = weakref.WeakSet()
_sweepers: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers_since: float | None = None  # waiting for a request's headers since
        self.body_since: float | None = None  # waiting for the rest of a request's body since

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.headers_since = time.monotonic()
        _connections.add(self)
        if self.loop not in _sweepers:
            _sweepers.add(self.loop)
            self.loop.create_task(_sweep())

    def connection_lost(self, exc: Exception | None) -> None:
        _connections.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.headers_since is None and self.body_since is None:
            self.headers_since = time.monotonic()  # the next request on a kept-alive connection
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self.headers_since = None
        self.body_since = time.monotonic()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.body_since = None
        super().on_message_complete()

    def expire(self, now: float, header_timeout: float, body_timeout: float) -> None:
        if self.transport.is_closing():
            return
        if self.headers_since is not None and now - self.headers_since > header_timeout:
            self.transport.close()
        elif self.body_since is not None and now - self.body_since > body_timeout:
            self._answer_timeout()

    def _answer_timeout(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            head = (
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/x-amz-json-1.1\r\n"
                b"content-length: %d\r\nx-amzn-requestid: %s\r\nconnection: close\r\n\r\n"
                % (len(_TIMEOUT_BODY), str(uuid.uuid4()).encode())
            )
            self.transport.write(head + _TIMEOUT_BODY)
            # The app's receive() now answers http.disconnect, and whatever it sends is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()


def _setting(name: str) -> float:
    # TRENT_HEADER_TIMEOUT_SECONDS / TRENT_BODY_TIMEOUT_SECONDS, as `trent serve` passes settings on.
    return float(os.environ.get(name) or DEFAULT_TIMEOUT_SECONDS)


async def _sweep() -> None:
    header_timeout = _setting("TRENT_HEADER_TIMEOUT_SECONDS")
    body_timeout = _setting("TRENT_BODY_TIMEOUT_SECONDS")
    interval = min(1.0, header_timeout / 2, body_timeout / 2)
    while True:
        await asyncio.sleep(interval)
        now = time.monotonic()
        for connection in list(_connections):
            connection.expire(now, header_timeout, body_timeout)
