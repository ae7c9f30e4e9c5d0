"""uvicorn's h11 protocol with one change: a request head over ``MAX_HEAD_BYTES`` is answered ``431``
with the API's JSON error body, and the client gets to read it.

Why a protocol and not a middleware: h11 refuses a head that outgrows its buffer before any ASGI app
runs. uvicorn then wrote a plain-text 400 and closed the socket while the client was still sending
its head; closing with unread bytes makes the kernel send a reset, which throws away the answer on
the client's side, so a client on a real network saw "connection reset" and nothing else. A head
that happened to arrive in one read (up to 256 KiB on loopback) was parsed whole instead and reached
the app: the same request got 200, 400 or a reset depending on how the bytes were cut.

Here every head over the limit gets the same answer: the 431 is written, the connection is closed
for writing, and what the client still sends is read and thrown away (a "lingering close", as nginx
does) until it closes its side, pauses for ``LINGER_IDLE_SECONDS`` or ``LINGER_MAX_SECONDS`` pass.
Nothing changes for heads within the limit.
"""

import logging
import uuid
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from api.errors import error_response
from api.security_headers import STATIC_HEADERS
from coach_sessions.errors import ErrorCode

log = logging.getLogger("coach_sessions.api")

# h11's own default: a head (request line and headers) this big is far beyond any real client's
# (a bearer token is ~300 bytes); the limit is per connection, so it also bounds what a slow client
# can make the server hold.
MAX_HEAD_BYTES = 16 * 1024
LINGER_IDLE_SECONDS = 2.0
LINGER_MAX_SECONDS = 10.0
DETAIL = f"The request's headers are larger than {MAX_HEAD_BYTES} bytes."

_Next = h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]


def _head_size(request: h11.Request) -> int:
    line = len(request.method) + len(request.target) + len(b"  HTTP/1.1\r\n")
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers) + 2


class _HeadLimitedConnection(h11.Connection):
    """Keeps the refusal (uvicorn drops it), and refuses a head over the limit that arrived whole:
    h11 checks its buffer only while a head is incomplete."""

    def __init__(self, max_head_bytes: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_head_bytes)
        self.max_head_bytes = max_head_bytes
        self.refusal: h11.RemoteProtocolError | None = None

    def next_event(self) -> _Next:
        try:
            event = super().next_event()
            if isinstance(event, h11.Request) and _head_size(event) > self.max_head_bytes:
                raise h11.RemoteProtocolError("Request header fields too large", error_status_hint=431)
        except h11.RemoteProtocolError as error:
            self.refusal = error
            raise
        return event


class HeadLimitProtocol(H11Protocol):
    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any], _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_conn = _HeadLimitedConnection(config.h11_max_incomplete_event_size or MAX_HEAD_BYTES)
        self.conn = self._head_conn
        self._lingering = False
        self._linger_until = 0.0
        self._linger_timer: Any = None

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # the rest of a refused head: read and dropped, never parsed
            self._linger()
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this for every h11 refusal; only the head-size one is answered differently.
        refusal = self._head_conn.refusal
        if refusal is None or refusal.error_status_hint != 431:
            super().send_400_response(msg)
            return
        request_id = uuid.uuid4().hex
        answer = error_response(ErrorCode.HEADERS_TOO_LARGE, DETAIL)
        headers = [
            *self.server_state.default_headers,
            *answer.raw_headers,
            # Written here, below ASGI, so SecurityHeadersMiddleware never sees it (HSTS aside: the
            # scheme behind a proxy is only known to uvicorn's ProxyHeadersMiddleware, above us).
            *STATIC_HEADERS,
            (b"connection", b"close"),
            (b"x-request-id", request_id.encode()),
        ]
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n" + head + b"\r\n" + answer.body)
        log.warning("request head too large", extra={"request_id": request_id, "status": 431})
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client sees the end of the answer, and we keep reading
        self._lingering = True
        self._linger_until = self.loop.time() + LINGER_MAX_SECONDS
        self.flow.resume_reading()  # a paused connection would never drain the client's bytes
        self._linger()

    def _linger(self) -> None:
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        if self.loop.time() >= self._linger_until:
            self.transport.close()
            return
        self._linger_timer = self.loop.call_later(LINGER_IDLE_SECONDS, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        # h11's state is past the refusal: telling it the connection closed would raise.
        if self._lingering:
            self.transport.close()
            return
        super().shutdown()
