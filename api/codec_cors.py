"""CORS for the codec endpoints only, and only for TEMPORAL_UI_ORIGIN (api/routes/codec.py).

The Temporal UI, served from its own origin, calls ``POST /codec/decode`` from the operator's browser
(``fetch`` with ``credentials: "include"`` when the UI is told to include them). Every other route of
this API stays same-origin: no CORS header is ever sent for it.

- A preflight (``OPTIONS`` with ``Access-Control-Request-Method``) to ``/codec/...`` from the configured
  origin, asking for POST, is answered 204 with the allowed method and headers, credentials allowed.
  From any other origin (or TEMPORAL_UI_ORIGIN unset) it is answered 403 without CORS headers, so the
  browser never sends the request.
- An actual request from the configured origin gets ``Access-Control-Allow-Origin: <that origin>`` and
  ``Access-Control-Allow-Credentials: true`` on its answer, errors included (the UI can show a 401).
  The answer varies on Origin (``Vary: Origin``), so no cache hands it to another origin.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from api.middleware import CODEC_PATH_PREFIX
from coach_sessions.errors import ErrorCode

ALLOWED_METHODS = "POST"
# What the UI sends: JSON, the namespace it shows, and (with its own auth) a bearer token.
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"
PREFLIGHT_MAX_AGE = "600"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


class CodecCorsMiddleware:
    def __init__(self, app: ASGIApp, origin: str) -> None:
        self.app = app
        self.origin = origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(CODEC_PATH_PREFIX):
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        allowed = bool(self.origin) and origin == self.origin
        cors = [
            (b"access-control-allow-origin", self.origin.encode()),
            (b"access-control-allow-credentials", b"true"),
        ]
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None:
            if not allowed or _header(scope, b"access-control-request-method") != ALLOWED_METHODS:
                response = error_response(ErrorCode.FORBIDDEN, "Cross-origin codec calls: the Temporal UI only.")
                response.headers["Vary"] = "Origin"
                await response(scope, receive, send)
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        *cors,
                        (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                        (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
                        (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
                        (b"vary", b"Origin"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"vary", b"Origin"), *(cors if allowed else [])]
            await send(message)

        await self.app(scope, receive, send_with_cors)
