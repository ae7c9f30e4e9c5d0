"""The admin's cancellation takes its reason in a JSON body (issue 19): a query string is written into
proxies' access logs. The query form still works; both at once must agree."""

import asyncio
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from api.app import create_app
from coach_sessions.settings import Settings
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, Stack, auth


async def _future_session(pool: asyncpg.Pool) -> tuple[UUID, UUID]:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(72)])
    return session_id, family.coach.id


async def _state(pool: asyncpg.Pool, session_id: UUID) -> tuple[Any, ...]:
    row = await pool.fetchrow("SELECT status, version, coach_notes FROM scheduled_sessions WHERE id = $1", session_id)
    events = await pool.fetchval("SELECT count(*) FROM learning_events WHERE session_id = $1", session_id)
    return (*row, events)


async def test_the_body_form_cancels_and_keeps_the_reason_out_of_the_url(stack: Stack, pool: asyncpg.Pool) -> None:
    session_id, _ = await _future_session(pool)
    response = await stack.http.request(
        "DELETE", "/api/sessions", headers=ADMIN, json={"sessionId": str(session_id), "reason": "Parent requested"}
    )
    assert response.status_code == 200, response.text
    assert "reason" not in str(response.request.url) and "Parent" not in str(response.request.url)
    session = response.json()["session"]
    assert (session["status"], session["coach_notes"]) == ("cancelled", "Parent requested")
    assert await _state(pool, session_id) == ("cancelled", 2, "Parent requested", 1)


async def test_the_query_form_still_cancels(stack: Stack, pool: asyncpg.Pool) -> None:
    session_id, _ = await _future_session(pool)
    response = await stack.http.delete(
        "/api/sessions", params={"sessionId": str(session_id), "reason": "Parent requested"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    assert response.json()["session"]["status"] == "cancelled"


async def test_both_forms_that_agree_are_one_request(stack: Stack, pool: asyncpg.Pool) -> None:
    session_id, _ = await _future_session(pool)
    response = await stack.http.request(
        "DELETE",
        "/api/sessions",
        params={"sessionId": str(session_id).upper(), "reason": "  Parent requested "},  # the same, once read
        headers=ADMIN,
        json={"sessionId": str(session_id), "reason": "Parent requested"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sessionId": "other", "reason": "Parent requested"}, "sessionId"),
        ({"reason": "Coach travelling"}, "reason"),
        ({"sessionId": "other", "reason": "Coach travelling"}, "sessionId"),
    ],
)
async def test_both_forms_that_differ_are_422_and_change_nothing(
    stack: Stack, pool: asyncpg.Pool, query: dict[str, str], field: str
) -> None:
    session_id, _ = await _future_session(pool)
    other, _ = await _future_session(pool)
    before, before_other = await _state(pool, session_id), await _state(pool, other)
    params = {k: (str(other) if v == "other" else v) for k, v in query.items()}
    response = await stack.http.request(
        "DELETE",
        "/api/sessions",
        params=params,
        headers=ADMIN,
        json={"sessionId": str(session_id), "reason": "Parent requested"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert field in [f["field"] for f in response.json()["fields"]]
    assert await _state(pool, session_id) == before and await _state(pool, other) == before_other


@pytest.mark.parametrize(
    "body",
    [
        {"sessionId": "SESSION"},  # no reason
        {"reason": "Parent requested"},  # no session
        {"sessionId": "SESSION", "reason": "Parent\x00requested"},
        {"sessionId": "SESSION", "reason": "x" * 501},
        {"sessionId": "SESSION", "reason": "  "},
        {"sessionId": "SESSION", "reason": "Parent requested", "notify": True},
        {"sessionId": "not-a-uuid", "reason": "Parent requested"},
        {"sessionId": "SESSION", "reason": 12345},
        ["SESSION", "Parent requested"],
    ],
)
async def test_a_bad_body_is_422_and_changes_nothing(stack: Stack, pool: asyncpg.Pool, body: Any) -> None:
    session_id, _ = await _future_session(pool)
    before = await _state(pool, session_id)
    fill = lambda v: str(session_id) if v == "SESSION" else v  # noqa: E731
    sent = {k: fill(v) for k, v in body.items()} if isinstance(body, dict) else [fill(v) for v in body]
    response = await stack.http.request("DELETE", "/api/sessions", headers=ADMIN, json=sent)
    assert response.status_code == 422, response.text
    assert await _state(pool, session_id) == before


async def test_neither_form_is_422(stack: Stack) -> None:
    response = await stack.http.delete("/api/sessions", headers=ADMIN)
    assert response.status_code == 422, response.text
    assert {f["field"] for f in response.json()["fields"]} == {"sessionId", "reason"}


async def test_a_coach_sending_the_body_is_refused_as_before(stack: Stack, pool: asyncpg.Pool) -> None:
    session_id, coach_id = await _future_session(pool)
    before = await _state(pool, session_id)
    response = await stack.http.request(
        "DELETE", "/api/sessions", headers=auth(coach_id), json={"sessionId": str(session_id), "reason": "Unwell"}
    )
    assert response.status_code == 403 and response.json()["error"] == "parent_consent_required"
    someone_else = (await make_family(pool)).coach.id
    foreign = await stack.http.request(
        "DELETE", "/api/sessions", headers=auth(someone_else), json={"sessionId": str(session_id), "reason": "Unwell"}
    )
    assert foreign.status_code == 404
    assert await _state(pool, session_id) == before


async def test_ten_keyed_copies_in_either_form_are_one_cancellation(stack: Stack, pool: asyncpg.Pool) -> None:
    """The key's fingerprint is the action's input, so a retry that switches form is the same request."""
    session_id, _ = await _future_session(pool)
    headers = ADMIN | {"Idempotency-Key": str(uuid4())}
    as_body: dict[str, Any] = {"json": {"sessionId": str(session_id), "reason": "Parent requested"}}
    as_query: dict[str, Any] = {"params": {"sessionId": str(session_id), "reason": "Parent requested"}}
    answers = await asyncio.gather(
        *(
            stack.http.request("DELETE", "/api/sessions", headers=headers, **(as_body if i % 2 else as_query))
            for i in range(10)
        )
    )
    done = [a for a in answers if a.status_code == 200]
    assert done and {a.status_code for a in answers} <= {200, 409}, [a.text for a in answers]
    assert all(a.json()["error"] == "idempotency_key_in_progress" for a in answers if a.status_code == 409)
    assert len({a.text for a in done}) == 1
    assert await _state(pool, session_id) == ("cancelled", 2, "Parent requested", 1)


def test_the_openapi_document_describes_the_body() -> None:
    document = create_app(Settings(app_env="test", auth_jwt_secret="x" * 40)).openapi()
    operation = document["paths"]["/api/sessions"]["delete"]
    body = operation["requestBody"]
    assert body.get("required", False) is False  # the query form still works
    schema = body["content"]["application/json"]["schema"]
    assert "preferred" in schema["description"].lower()
    [ref] = [s["$ref"].rsplit("/", 1)[-1] for s in schema["anyOf"] if "$ref" in s]  # or no body: the query form
    schema = document["components"]["schemas"][ref]
    assert sorted(schema["required"]) == ["reason", "sessionId"]
    assert schema["properties"]["sessionId"]["format"] == "uuid"
    assert schema["additionalProperties"] is False
    assert {p["name"]: p["required"] for p in operation["parameters"] if p["in"] == "query"} == {
        "sessionId": False,
        "reason": False,
    }
    assert {"400", "413", "422"} <= set(operation["responses"])


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        # Malformed JSON is a 422 "JSON decode error" here as on every route (see test_hostile_input.py).
        (b"not json", "application/json", 422),
        (b'{"sessionId": ', "application/json", 422),
        (b"\xff\xfe", "application/json", 422),
        (b'{"sessionId": "SESSION", "reason": "Parent requested"}', "text/plain", 422),
        (b'{"reason": "' + b"y" * 70_000 + b'"}', "application/json", 413),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_refused_before_anything_runs(
    stack: Stack, pool: asyncpg.Pool, content: bytes, content_type: str, status: int
) -> None:
    session_id, _ = await _future_session(pool)
    before = await _state(pool, session_id)
    response = await stack.http.request(
        "DELETE",
        "/api/sessions",
        headers=ADMIN | {"Content-Type": content_type},
        content=content.replace(b"SESSION", str(session_id).encode()),
    )
    assert response.status_code == status, response.text
    assert await _state(pool, session_id) == before
