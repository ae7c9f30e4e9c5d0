"""The one table from error codes to HTTP statuses, and the handlers that answer in JSON."""

import logging
import re
from collections.abc import Mapping
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.error_bodies import body_of
from coach_sessions.errors import DomainError, ErrorCode

log = logging.getLogger("coach_sessions.api")

HTTP_STATUS: dict[str, int] = {
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.TIME_IN_PAST: 422,
    ErrorCode.MALFORMED_PAYLOAD: 400,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.HEADERS_TOO_LARGE: 431,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.CSRF_FAILED: 403,
    ErrorCode.PARENT_CONSENT_REQUIRED: 403,
    ErrorCode.SESSION_NOT_FOUND: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.SESSION_LOCKED: 409,
    ErrorCode.INVALID_STATUS: 409,
    ErrorCode.SESSION_NOT_STARTED: 409,
    ErrorCode.CANCELLATION_PENDING: 409,
    ErrorCode.INSIDE_MINIMUM_NOTICE: 409,
    ErrorCode.NO_CANCELLATION_PENDING: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.TEMPORARILY_UNAVAILABLE: 503,
    ErrorCode.ENROLLMENT_EXISTS: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS: 409,
    ErrorCode.BRIEF_UNAVAILABLE: 503,
    ErrorCode.ROW_CHANGED: 409,
    ErrorCode.INTERNAL_ERROR: 500,
}


DEFAULT_RETRY_AFTER_SECONDS = 5

# Framework-level refusals (Starlette's HTTPException) answer with the code of their status.
CODE_OF_STATUS: dict[int, str] = {
    400: ErrorCode.MALFORMED_PAYLOAD,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
}


def error_response(code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """The one error body, ``{error, detail, …context}`` (api/error_bodies.py), with the status of
    ``code`` from the table."""
    headers = dict(headers or {})
    if code == ErrorCode.UNAUTHORIZED:
        headers["WWW-Authenticate"] = "Bearer"
    if code == ErrorCode.PAYLOAD_TOO_LARGE:
        headers["Connection"] = "close"  # the rest of the body was never read: don't reuse the connection
    if HTTP_STATUS[code] == 503 or "retry_after" in extra:  # when to try again (seconds)
        headers["Retry-After"] = str(extra.pop("retry_after", DEFAULT_RETRY_AFTER_SECONDS))
    return JSONResponse(status_code=HTTP_STATUS[code], content=body_of(code, detail, extra), headers=headers or None)


# A location part as a field name; anything else (an unknown key holding a sentence, a name) is not
# echoed: an error answer never repeats a note or a name (docs/security.md).
_FIELD_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [
        str(p) if isinstance(p, int) or _FIELD_PART.match(str(p)) else "(unnamed)"
        for p in loc
        if p not in ("query", "body", "path", "header")
    ]
    return ".".join(parts) or "request"


def _message(error: Mapping[str, Any]) -> str:
    """Pydantic's message for one error, unless it quotes the input (a UUID parse names the character
    it stopped at; a custom validator may quote its value): then only what kind of value was wanted."""
    message = str(error.get("msg", ""))
    given = error.get("input")
    if error.get("type") in ("uuid_parsing", "uuid_type"):
        return "Input should be a valid UUID"
    if isinstance(given, str) and len(given) >= 3 and given in message:
        return f"Input is not valid here ({error.get('type', 'invalid')})"
    return message


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path (routes sit in nested included routers)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, error: DomainError) -> JSONResponse:
        return error_response(error.code, error.detail, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        fields = [{"field": _field_name(tuple(e.get("loc", ()))), "message": _message(e)} for e in error.errors()]
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        return error_response(ErrorCode.VALIDATION_ERROR, detail, fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = CODE_OF_STATUS.get(error.status_code, ErrorCode.MALFORMED_PAYLOAD)
        headers = dict(error.headers or {})
        if error.status_code == 405:  # Starlette names only the first route on this path
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return error_response(code, str(error.detail), headers=headers)

    @app.exception_handler(RPCError)
    @app.exception_handler(RPCTimeoutOrCancelledError)
    async def _temporal(_: Request, error: Exception) -> JSONResponse:
        log.error("temporal unavailable", extra={"error": repr(error)})
        return error_response(ErrorCode.SERVICE_UNAVAILABLE, "The workflow service is unavailable; try again.")

    # Every way Postgres can be unreachable: refused or dropped connections, a server starting up or
    # shutting down (57P0x), too many connections, a pool that cannot hand out a connection in time.
    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(asyncpg.exceptions.OperatorInterventionError)
    @app.exception_handler(asyncpg.exceptions.InsufficientResourcesError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(TimeoutError)
    @app.exception_handler(OSError)
    @app.exception_handler(asyncpg.exceptions.InternalClientError)
    async def _database(_: Request, error: Exception) -> JSONResponse:
        log.error("dependency unavailable", extra={"error": repr(error)})
        return error_response(ErrorCode.SERVICE_UNAVAILABLE, "A backing service is unavailable; try again.")

    @app.exception_handler(asyncpg.PostgresError)
    async def _postgres(request: Request, error: Exception) -> JSONResponse:
        """Any other server error: unavailable when its SQLSTATE class says the server is (connection,
        resources, operator intervention, system error); otherwise a bug, answered 500 like any other."""
        if str(getattr(error, "sqlstate", "") or "")[:2] in ("08", "53", "57", "58"):
            return await _database(request, error)
        raise error

    # Anything else is answered 500 by api.middleware.RequestContextMiddleware (not here: an
    # ``Exception`` handler runs in Starlette's ServerErrorMiddleware, which re-raises to the server).
