"""Two pure ASGI middlewares: every answer's request id, log line and last-resort 500; the body cap.

Pure ASGI (not ``@app.middleware``) on purpose. Starlette hands an unhandled exception to its
``ServerErrorMiddleware``, which answers 500 *and re-raises*: uvicorn then prints a plain-text
traceback and drops the keep-alive connection, and an ``@app.middleware`` wrapper never sees a
response to stamp with ``X-Request-ID`` or log. Catching here, inside, means nothing reaches uvicorn.
"""

import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from coach_sessions.errors import ErrorCode
from coach_sessions.logging import request_id_var

log = logging.getLogger("coach_sessions.api")

# A caller's X-Request-ID is kept only when it is a plain token; anything else gets a fresh id, so a
# hostile header cannot put control characters or megabytes into our logs.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# Every body this API takes is a small JSON object (notes are ≤ 4,000 characters) or one WhatsApp
# webhook delivery; 64 KiB leaves room for both and refuses a 50 MB body before it is read.
MAX_BODY_BYTES = 64 * 1024
# The Temporal UI's codec calls (api/routes/codec.py) carry whole payloads, base64: Temporal refuses a
# payload over 2 MiB by default (its blob size limit), 2.7 MiB in base64; 4 MiB holds one with room.
CODEC_PATH_PREFIX = "/codec/"
CODEC_MAX_BODY_BYTES = 4 * 1024 * 1024


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


class RequestContextMiddleware:
    """Request id in the log context and on every answer; one JSON log line per request; 500 as JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        where = {"request_id": request_id, "method": scope["method"], "path": scope["path"]}
        token = request_id_var.set(request_id)
        started_at = time.perf_counter()
        state: dict[str, Any] = {"status": None}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra=where)
            if state["status"] is None:
                await error_response(ErrorCode.INTERNAL_ERROR, "Something went wrong on our side.")(
                    scope, receive, send_with_id
                )
            # else: the answer was already under way; returning lets the server close it cleanly.
        finally:
            log.info(
                "request",
                extra=where | {"status": state["status"], "ms": round((time.perf_counter() - started_at) * 1000, 1)},
            )
            request_id_var.reset(token)


class BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI's body reader passes it on untouched (it turns others into 400)."""

    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        super().__init__(413, f"The body is larger than {limit} bytes.")


class BodyLimitMiddleware:
    """Refuse a declared Content-Length over the cap without reading; stop a chunked body at the cap."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, codec_max_bytes: int = CODEC_MAX_BODY_BYTES
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.codec_max_bytes = codec_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.codec_max_bytes if scope["path"].startswith(CODEC_PATH_PREFIX) else self.max_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and not declared.strip().isdigit():
            await error_response(ErrorCode.MALFORMED_PAYLOAD, "Content-Length is not a number.")(scope, receive, send)
            return
        if declared is not None and int(declared) > limit:
            await error_response(ErrorCode.PAYLOAD_TOO_LARGE, str(BodyTooLarge(limit).detail))(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
