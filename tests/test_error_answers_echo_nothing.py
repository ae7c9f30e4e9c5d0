"""Error answers never echo a note or a name (issue 22): invalid bodies carrying planted strings, sent
to several endpoints, get 422s (or 500s) naming the field and what was wanted, never the value."""

import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from coach_sessions.logging import JsonFormatter
from tests import helpers
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, api_client, auth, running_worker

TAG = secrets.token_hex(4)
NAME = f"Zephyrine{TAG} Quillfeather{TAG}"
NOTE = f"Nightjar{TAG} read the ostrich passage"
PHONE = "+9196" + "".join(secrets.choice("0123456789") for _ in range(8))
PLANTED = [f"Zephyrine{TAG}", f"Quillfeather{TAG}", f"Nightjar{TAG}", PHONE, PHONE.lstrip("+")]


@pytest.fixture
async def http(pool: asyncpg.Pool, temporal_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    async with running_worker(temporal_env.client, pool) as task_queue:
        async with api_client(pool, temporal_env.client, task_queue) as client:
            yield client


def _cases(child_id: str, parent_id: str, coach_id: str, session_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    child = {"age": 7, "parentId": parent_id, "coachId": coach_id}
    return [
        # A note over the length cap.
        ("coach", "/api/sessions/complete", {"sessionId": session_id, "notes": f"{NOTE} " + "x" * 4100}),
        # A name with a NUL in it (the text guard), and a key with a NUL and a name in it.
        ("admin", "/api/coaches", {"name": f"{NAME}\x00", "email": "c@example.org"}),
        ("admin", "/api/children", {**child, "name": "Asha", f"{NAME}\x00": 1}),
        # A wrong type whose value is a name; a name where an id, a number, a phone or a timezone goes.
        ("admin", "/api/children", {**child, "name": "Asha", "age": NAME}),
        ("admin", "/api/children", {**child, "name": [NAME]}),
        ("admin", "/api/children", {**child, "name": "Asha", "parentId": NAME}),
        ("admin", "/api/parents", {"name": "Asha", "phone": NAME}),
        ("admin", "/api/parents", {"name": NAME, "phone": PHONE[:-3], "timezone": NAME}),
        ("admin", "/api/coaches", {"name": NAME, "email": NAME}),
        # An unknown field whose key is a sentence with a name; a reason of the wrong type.
        ("admin", "/api/children", {**child, "name": "Asha", f"notes about {NAME}": NOTE}),
        ("coach", "/api/sessions/request-cancel", {"sessionId": session_id, "reason": {"text": NAME}}),
        ("coach", "/api/sessions/request-cancel", {"sessionId": NAME, "reason": NOTE}),
        ("coach", "/api/sessions/complete", {"sessionId": session_id, "notes": NOTE, "parentMessage": [NAME]}),
        ("admin", "/api/enrollments", {"childId": child_id, "coachId": coach_id, "startDate": NAME}),
        (
            "coach",
            "/api/learning-events",
            {"childId": child_id, "eventType": NAME, "eventData": {f"about {NAME}": NOTE}, "content": NOTE},
        ),
    ]


async def test_invalid_bodies_get_answers_that_quote_none_of_their_values(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(2)])
    cases = _cases(str(family.child.id), str(family.parent.id), str(family.coach.id), str(session_id))
    echoed = []
    for who, path, body in cases:
        headers = ADMIN if who == "admin" else auth(family.coach.id)
        response = await http.post(path, headers=headers, json=body)
        assert response.status_code in (400, 404, 409, 422), (path, response.status_code, response.text)
        text = response.text + "".join(f"{k}: {v}" for k, v in response.headers.items())
        echoed += [(path, p, response.text[:300]) for p in PLANTED if p.lower() in text.lower()]
    assert echoed == []


async def test_a_500_quotes_nothing_in_its_answer_or_its_logged_trace(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error whose message quotes a child (as a pydantic or Postgres error would)."""
    async with running_worker(temporal_env.client, pool) as task_queue:
        settings = helpers.test_settings(task_queue)
        services = Services.build(pool, temporal_env.client, settings)

        async def boom(*_: Any, **__: Any) -> Any:
            raise RuntimeError(f"Key (name)=({NAME}) phone {PHONE} note {NOTE!r}")

        object.__setattr__(services.people, "list_children", boom)
        app = create_app(settings, services=services)
        caplog.set_level(logging.INFO)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/api/coach/children", headers=ADMIN | {"X-Request-ID": f"r-{uuid4().hex}"})
    assert response.status_code == 500 and response.json()["error"] == "internal_error"
    assert not [p for p in PLANTED if p in response.text]
    [error] = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    line = JsonFormatter().format(error)
    assert "builtins.RuntimeError" in line and "in boom" in line  # where, not what
    assert not [p for p in PLANTED if p in line]
