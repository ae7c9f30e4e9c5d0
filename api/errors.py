"""The one table from error codes to HTTP statuses, and the handlers that answer in JSON."""

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from coach_sessions.errors import DomainError, ErrorCode

log = logging.getLogger("coach_sessions.api")

HTTP_STATUS: dict[str, int] = {
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.TIME_IN_PAST: 422,
    ErrorCode.MALFORMED_PAYLOAD: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.PARENT_CONSENT_REQUIRED: 403,
    ErrorCode.SESSION_NOT_FOUND: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.SESSION_LOCKED: 409,
    ErrorCode.INVALID_STATUS: 409,
    ErrorCode.SESSION_NOT_STARTED: 409,
    ErrorCode.CANCELLATION_PENDING: 409,
    ErrorCode.NO_CANCELLATION_PENDING: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.BRIEF_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
}


def error_response(code: str, detail: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if code == ErrorCode.UNAUTHORIZED else None
    return JSONResponse(
        status_code=HTTP_STATUS.get(code, 400),
        content={"error": code, "detail": detail, **extra},
        headers=headers,
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("query", "body", "path", "header")]
    return ".".join(parts) or "request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, error: DomainError) -> JSONResponse:
        return error_response(error.code, error.detail, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": _field_name(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in error.errors()
        ]
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        return error_response(ErrorCode.VALIDATION_ERROR, detail, fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.FORBIDDEN, 404: ErrorCode.NOT_FOUND}.get(
            error.status_code, "http_error"
        )
        return JSONResponse(status_code=error.status_code, content={"error": code, "detail": str(error.detail)})

    @app.exception_handler(RPCError)
    async def _temporal(_: Request, error: RPCError) -> JSONResponse:
        log.error("temporal unavailable", extra={"error": str(error), "status": str(error.status)})
        return error_response(ErrorCode.SERVICE_UNAVAILABLE, "The workflow service is unavailable; try again.")

    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(OSError)
    async def _database(_: Request, error: Exception) -> JSONResponse:
        log.error("dependency unavailable", extra={"error": repr(error)})
        return error_response(ErrorCode.SERVICE_UNAVAILABLE, "A backing service is unavailable; try again.")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(ErrorCode.INTERNAL_ERROR, "Something went wrong on our side.")
