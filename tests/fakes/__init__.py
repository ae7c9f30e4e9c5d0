"""Local fake HTTP servers that speak the real REST shapes of our external providers.

Each fake is a real ``ThreadingHTTPServer`` on 127.0.0.1 with an ephemeral port, so the production
clients (httplib2 under google-api-python-client, httpx for AiSensy) run unmodified against it. The
shared base here records requests and injects faults; subclasses implement the routes.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int
    payload: Any = None  # JSON-encoded unless None (then an empty body)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    kind: str  # "status" answers with an error, "drop" closes the socket without an answer
    status: int = 503
    reason: str | None = None


def free_port() -> int:
    """A port nothing listens on (for connection-refused tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeHTTPServer:
    """Thread-backed HTTP server with fault injection; subclasses implement :meth:`route`."""

    # Paths that fault injection never touches (e.g. an OAuth token endpoint).
    fault_exempt_paths: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._release = threading.Event()  # set to wake handlers sleeping in slow mode
        self.requests: Counter[str] = Counter()
        self.request_log: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._outage: _Fault | None = None
        self._delay = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._dispatch(self)

            do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output clean; request_log is the record

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False  # a handler parked in slow mode must not hold up stop()
        self._server = server
        # A short poll interval keeps shutdown() fast (the default is 0.5 s per stop).
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
            name=f"{type(self).__name__}-server",
        )
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # frees the port
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        assert self._server is not None, "fake server not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- fault injection ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget requests, faults and state (subclasses extend this for their own state)."""
        with self._lock:
            self._release.set()  # wake anything still parked from a previous test
            self._release = threading.Event()
            self.requests.clear()
            self.request_log.clear()
            self._faults.clear()
            self._outage = None
            self._delay = 0.0

    def fail_next(self, n: int = 1, status: int = 503, reason: str | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` (provider-shaped error body)."""
        with self._lock:
            self._faults.extend(_Fault("status", status, reason) for _ in range(n))

    def drop_next(self, n: int = 1) -> None:
        """Read the next ``n`` requests fully, then close the connection without an answer."""
        with self._lock:
            self._faults.extend(_Fault("drop") for _ in range(n))

    def outage(self, status: int = 503, reason: str | None = None) -> None:
        """Answer every request with ``status`` until :meth:`recover`."""
        with self._lock:
            self._outage = _Fault("status", status, reason)

    def recover(self) -> None:
        with self._lock:
            self._outage = None
            self._faults.clear()
            self._delay = 0.0

    def slow(self, seconds: float) -> None:
        """Handle each request normally, then wait ``seconds`` before answering."""
        with self._lock:
            self._delay = seconds

    # -- for subclasses ----------------------------------------------------------------------

    def route(self, request: RecordedRequest) -> Reply:
        raise NotImplementedError

    def error_payload(self, status: int, reason: str | None) -> Any:
        return {"error": {"code": status, "message": reason or "error"}}

    # -- plumbing ----------------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = RecordedRequest(
            method=handler.command,
            path=url.path,
            query=parse_qs(url.query),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=handler.rfile.read(length) if length else b"",
        )
        with self._lock:
            self.requests[request.method] += 1
            self.request_log.append(request)
            fault = None
            if request.path not in self.fault_exempt_paths:
                fault = self._outage or (self._faults.pop(0) if self._faults else None)
            delay, release = self._delay, self._release
            if fault is None:
                # Route (under the lock: routes mutate shared state) before the delay: in slow
                # mode the provider *did* act and the client never hears back, which is exactly
                # the "uncertain" case clients must handle.
                reply = self.route(request)
            elif fault.kind == "status":
                reply = Reply(fault.status, self.error_payload(fault.status, fault.reason))
        if fault is not None and fault.kind == "drop":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if delay and release.wait(delay):
            return  # released by reset()/stop(): the client has long given up
        self._write(handler, reply)

    @staticmethod
    def _write(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        body = b"" if reply.payload is None else json.dumps(reply.payload).encode()
        try:
            handler.send_response(reply.status)
            if body:
                handler.send_header("Content-Type", "application/json; charset=UTF-8")
            handler.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and hung up


FakeT = TypeVar("FakeT", bound="FakeHTTPServer")


@contextmanager
def serving(fake: FakeT) -> Iterator[FakeT]:
    """Run a fake for the duration of the block; its port is freed at the end."""
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
