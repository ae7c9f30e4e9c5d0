"""Every error the API answers in the suite is one its OpenAPI document declares for that operation.

``api_client`` (tests/helpers.py) hooks ``check_declared`` into its httpx client: an answer whose
status the operation does not declare, or whose ``error`` code is not among that status's bodies,
fails the test that got it. So a route's ``errors(...)`` cannot fall behind what it really answers.
"""

import re
from functools import cache
from typing import Any

import httpx


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def codes_of(document: dict[str, Any], response: dict[str, Any]) -> set[str]:
    """The ``error`` codes a declared error response's body can carry."""
    schema = response["content"]["application/json"]["schema"]
    bodies = [_resolve(document, s) for s in schema.get("oneOf", [schema])]
    return {body["properties"]["error"]["const"] for body in bodies if "error" in body.get("properties", {})}


@cache
def _path_patterns(paths: tuple[str, ...]) -> list[tuple[re.Pattern[str], str]]:
    # Literal paths first: /api/sessions/available-slots is not /api/sessions/{session_id}.
    ordered = sorted(paths, key=lambda p: p.count("{"))
    return [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p) for p in ordered]


def operation_of(document: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    for pattern, template in _path_patterns(tuple(document["paths"])):
        if pattern.match(path):
            return document["paths"][template].get(method.lower())
    return None


def undeclared(document: dict[str, Any], method: str, path: str, status: int, body: Any) -> str | None:
    """Why this answer is not in the document, or None when it is (or the path is not an API one)."""
    operation = operation_of(document, method, path)
    if operation is None or status < 400:
        return None  # a page, an unknown path (404) or method (405): no operation to hold it to
    response = operation["responses"].get(str(status))
    if response is None:
        return f"{method} {path} answered {status}, which {operation['operationId']} does not declare"
    code = body.get("error") if isinstance(body, dict) else None
    if not codes_of(document, response):
        return None  # not an error body (/readyz's 503 is its Readiness)
    if code not in codes_of(document, response):
        return f"{method} {path} answered {status} {code!r}, not among {sorted(codes_of(document, response))}"
    return None


def check_declared(document: dict[str, Any]) -> Any:
    """An httpx response hook that fails on an undeclared error answer."""

    async def hook(response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        await response.aread()
        try:
            body = response.json()
        except ValueError:
            body = None
        reason = undeclared(document, response.request.method, response.request.url.path, response.status_code, body)
        assert reason is None, reason

    return hook
