"""What the OpenAPI document says each route can answer besides success — the codes it names.

Every route declares the error codes it can answer with ``responses=errors(...)``. Each code's body is
a shared component (``api/error_bodies.py``, referenced with ``$ref``) and its status comes from the
one table in ``api/errors.py``; a status that several codes share answers ``oneOf`` their bodies, told
apart by ``error``. So a client generated from ``/openapi.json`` parses every answer into its own class.
A route that newly answers a code adds it to its ``errors(...)`` (the tests check every error answered
in the suite against the document).
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema

from api.error_bodies import ERROR_BODIES, model_name
from api.errors import HTTP_STATUS
from coach_sessions.errors import ErrorCode

_DESCRIPTIONS = {
    400: "Malformed body (not JSON, not UTF-8, or not the expected shape).",
    401: "Missing, expired or invalid bearer token (or webhook signature).",
    403: "Authenticated, but this role may not do this (forbidden); or a signed-in page's unsafe request came "
    "without its X-CSRF-Token or from another origin (csrf_failed).",
    404: "No such object, or it is not yours (the same answer for both).",
    409: "The session's state does not allow this now (or a coach acts inside the minimum notice), or another "
    "copy of this keyed request is still in progress (idempotency_key_in_progress: retry after Retry-After).",
    413: "Body larger than the cap (64 KiB); refused before it is read.",
    422: "A field is invalid; `fields` names each one.",
    500: "Unexpected error; the X-Request-ID header identifies it in the logs.",
    503: "A dependency (PostgreSQL, Temporal, a worker) is unavailable, or the action got no answer within "
    "ACTION_ANSWER_WITHIN and was not applied; try again after Retry-After (with the same Idempotency-Key).",
}

# Codes shared by groups of routes: add a code to a group to declare it on all of its routes.
AUTHENTICATED = (
    ErrorCode.UNAUTHORIZED,
    ErrorCode.VALIDATION_ERROR,
    ErrorCode.INTERNAL_ERROR,
    ErrorCode.SERVICE_UNAVAILABLE,
)
# An unsafe method: a signed-in page's request also needs its CSRF token (api/session_cookie.py).
AUTHENTICATED_WRITE = (*AUTHENTICATED, ErrorCode.CSRF_FAILED)
JSON_BODY = (ErrorCode.MALFORMED_PAYLOAD, ErrorCode.PAYLOAD_TOO_LARGE)
ADMIN_ONLY = (ErrorCode.FORBIDDEN,)
# A route that takes an Idempotency-Key.
KEYED = (ErrorCode.IDEMPOTENCY_KEY_REUSED, ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS)
# Every session action: not yours / missing, finished already, or no answer within the bound.
ACTION = (
    ErrorCode.SESSION_NOT_FOUND,
    ErrorCode.INVALID_STATUS,
    ErrorCode.TEMPORARILY_UNAVAILABLE,
    *KEYED,
)

_SCHEMAS = "#/components/schemas/"


def _ref(code: str) -> dict[str, str]:
    return {"$ref": _SCHEMAS + model_name(code)}


def _body_schema(codes: list[str]) -> dict[str, Any]:
    if len(codes) == 1:
        return _ref(codes[0])
    return {
        "oneOf": [_ref(code) for code in codes],
        "discriminator": {"propertyName": "error", "mapping": {code: _ref(code)["$ref"] for code in codes}},
    }


def errors(*codes: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status of these codes, with its description and bodies."""
    by_status: dict[int, list[str]] = {}
    for code in sorted(set(codes)):
        by_status.setdefault(HTTP_STATUS[code], []).append(code)
    declared: dict[int | str, dict[str, Any]] = {}
    for status, status_codes in sorted(by_status.items()):
        response: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": _body_schema(status_codes)}},
            "headers": {"X-Request-ID": {"schema": {"type": "string"}, "description": "This request's id."}},
        }
        if status == 401:
            response["headers"]["WWW-Authenticate"] = {"schema": {"type": "string"}}
        if status == 503:
            response["headers"]["Retry-After"] = {"schema": {"type": "integer"}, "description": "Seconds."}
        if ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS in status_codes:
            response["headers"]["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds; idempotency_key_in_progress only.",
            }
        declared[status] = response
    return declared


def _error_components() -> dict[str, Any]:
    """Every error body and what it refers to (its enums), as components."""
    _, top = models_json_schema(
        [(model, "serialization") for model in ERROR_BODIES.values()], ref_template=_SCHEMAS + "{model}"
    )
    return dict(top.get("$defs", {}))


def operation_id(route: APIRoute) -> str:
    """The endpoint function's name (complete_session): readable in a generated client."""
    return route.name


# api/text_guard.py refuses NUL in any text the API takes; the document says so on every free string.
NO_NUL = r"^[^\u0000]*$"


def _forbid_nul(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"enum", "const", "format"} & set(node):
            if "pattern" in node:
                node.setdefault("allOf", []).append({"pattern": NO_NUL})
            else:
                node["pattern"] = NO_NUL
        for value in list(node.values()):
            _forbid_nul(value)
    elif isinstance(node, list):
        for item in node:
            _forbid_nul(item)


def install_openapi(app: FastAPI) -> None:
    """Generate the document once, with the text rule applied to every request string."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in _error_components().items():
                if schemas.setdefault(name, schema) != schema:  # one name, one schema
                    raise RuntimeError(f"two OpenAPI schemas are named {name}")
            # Request strings only: an error body may quote a refused field's name as it came.
            errors_only = {model.__name__ for model in ERROR_BODIES.values()} | {"FieldError"}
            _forbid_nul({name: s for name, s in schemas.items() if name not in errors_only})
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    _forbid_nul(operation.get("parameters", []))
                    _forbid_nul(operation.get("requestBody", {}))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
