"""The one check on text entering the API: no NUL character and no lone surrogate, anywhere.

PostgreSQL refuses both in ``text`` and ``jsonb`` (NUL: "invalid byte sequence"; a lone surrogate
cannot even be encoded as UTF-8), which used to surface as a 500 after the request had been accepted.
Rather than repeating a validator on every string field, the caller's query string and JSON body are
walked once and the first offending field is named in a 422, like any other invalid field.
"""

import json
import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

# U+0000, and UTF-16 surrogates that JSON's \\uD800-style escapes can smuggle into a Python str.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MESSAGE = "must not contain NUL (U+0000) or unpaired surrogate characters"


def _bad_paths(document: Any) -> list[tuple[str | int, ...]]:
    """Paths of unstorable strings (keys too); iterative, so deep nesting cannot blow the stack."""
    found: list[tuple[str | int, ...]] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                found.append(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                if _UNSTORABLE.search(key):
                    found.append((*path, key))
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
    return sorted(found, key=str)


def _query_names(dependant: Any) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _declared_query(route: Any) -> set[str] | None:
    dependant = getattr(route, "dependant", None)
    return None if dependant is None else _query_names(dependant)


async def refuse_unstorable_text(request: Request) -> None:
    """Raise the API's 422 naming the query parameter or body field that holds unstorable text.

    An unknown query parameter is refused too, as unknown body fields are (``extra="forbid"``): what
    the OpenAPI document declares is all the API takes.
    """
    errors: list[dict[str, Any]] = []
    route = request.scope.get("route")
    declared = _declared_query(route)
    for name, value in request.query_params.multi_items():
        if _UNSTORABLE.search(name) or _UNSTORABLE.search(value):
            errors.append({"type": "string_unstorable", "loc": ("query", name), "msg": MESSAGE, "input": None})
        elif declared is not None and name not in declared:
            errors.append(
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "unknown parameter", "input": None}
            )
    if getattr(route, "body_field", None) is not None:  # FastAPI has read (and cached) this JSON body
        try:
            document = json.loads(await request.body())
        except (ValueError, RecursionError):
            document = None  # FastAPI answers malformed JSON itself
        errors.extend(
            {"type": "string_unstorable", "loc": ("body", *path), "msg": MESSAGE, "input": None}
            for path in _bad_paths(document)
        )
    if errors:
        raise RequestValidationError(errors)
