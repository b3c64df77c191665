"""uvicorn's httptools protocol with a deadline for request headers.

uvicorn closes idle keep-alive connections, but a client that opens a connection and then sends
its request line and headers a byte at a time (slowloris) holds the connection, and a socket,
for as long as it likes. Here every connection must complete a request's headers within
``HEADER_TIMEOUT_SECONDS`` of connecting or of the previous response; otherwise it is closed.
The body has its own deadline in the app (``ApiConfig.body_timeout_seconds``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# TRENT_HEADER_TIMEOUT_SECONDS (read at import: uvicorn's worker processes import this module afresh).
HEADER_TIMEOUT_SECONDS = float(os.environ.get("TRENT_HEADER_TIMEOUT_SECONDS") or 10.0)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout_seconds = HEADER_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._awaiting_headers = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers and self._header_deadline is None:
            self._arm()  # the next request on a kept-alive connection starts
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._awaiting_headers = True
        super().on_response_complete()

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout_seconds, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self._awaiting_headers and not self.transport.is_closing():
            self.transport.close()
