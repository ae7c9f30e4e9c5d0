"""What the OpenAPI document says each route can answer besides success — built from the one error table.

Every route declares its error statuses here with ``responses=errors(...)``; the body schema of each
status lists exactly the ``error`` codes ``api/errors.py`` maps to it, so a client generated from
``/openapi.json`` knows every answer. A new status or code (e.g. a 503 for a bounded wait) is one line
in the table and, if a route can newly answer it, one name in that route's ``errors(...)``.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import HTTP_STATUS

_DESCRIPTIONS = {
    400: "Malformed body (not JSON, not UTF-8, or not the expected shape).",
    401: "Missing, expired or invalid bearer token (or webhook signature).",
    403: "Authenticated, but this role may not do this.",
    404: "No such object, or it is not yours (the same answer for both).",
    405: "Method not allowed on this path; the Allow header lists the allowed ones.",
    409: "The session's state does not allow this now (or a coach acts inside the minimum notice), or another "
    "copy of this keyed request is still in progress (idempotency_key_in_progress: retry after Retry-After).",
    413: "Body larger than the cap (64 KiB); refused before it is read.",
    422: "A field is invalid; `fields` names each one.",
    500: "Unexpected error; the X-Request-ID header identifies it in the logs.",
    503: "A dependency (PostgreSQL, Temporal, a worker) is unavailable, or the action got no answer within "
    "ACTION_ANSWER_WITHIN and was not applied; try again after Retry-After (with the same Idempotency-Key).",
}

# Statuses shared by groups of routes: add a status to a group to declare it on all of its routes.
AUTHENTICATED = (401, 422, 500, 503)
JSON_BODY = (400, 413)
ADMIN_ONLY = (403,)
# A session action: not yours / missing, refused by the session's state (409).
ACTION = (404, 409)


def _schema(status: int) -> dict[str, Any]:
    codes = sorted(code for code, mapped in HTTP_STATUS.items() if mapped == status)
    properties: dict[str, Any] = {
        "error": {"type": "string", "enum": codes, "description": "Stable machine code."},
        "detail": {"type": "string", "description": "A sentence for people."},
    }
    if status == 422:
        properties["fields"] = {
            "type": "array",
            "description": "One entry per invalid field (absent for rules such as time_in_past).",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        }
    if status == 409:
        properties["notice_ends_at"] = {
            "type": "string",
            "format": "date-time",
            "description": "inside_minimum_notice only: sessions starting before it are inside COACH_MIN_NOTICE.",
        }
    return {
        "type": "object",
        "required": ["error", "detail"],
        "properties": properties,
        # Some codes carry context, e.g. invalid_status → current_status.
        "additionalProperties": True,
        "title": f"Error{status}",
    }


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status with its description and real body schema."""
    declared: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        response: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": _schema(status)}},
            "headers": {"X-Request-ID": {"schema": {"type": "string"}, "description": "This request's id."}},
        }
        if status == 401:
            response["headers"]["WWW-Authenticate"] = {"schema": {"type": "string"}}
        if status == 503:
            response["headers"]["Retry-After"] = {"schema": {"type": "integer"}, "description": "Seconds."}
        if status == 409:
            response["headers"]["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds; idempotency_key_in_progress only.",
            }
        declared[status] = response
    return declared


# api/text_guard.py refuses NUL in any text the API takes; the document says so on every free string.
NO_NUL = r"^[^\u0000]*$"


def _forbid_nul(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and "enum" not in node and "format" not in node:
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
            _forbid_nul(document.get("components", {}).get("schemas", {}))
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    _forbid_nul(operation.get("parameters", []))
                    _forbid_nul(operation.get("requestBody", {}))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
