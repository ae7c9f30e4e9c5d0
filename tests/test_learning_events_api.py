"""POST /api/learning-events: who may add, what is refused, and the vector that follows the commit."""

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from coach_sessions.providers.embeddings import LocalEmbeddingProvider
from tests.factories import make_family, make_sessions, now_utc
from tests.helpers import ADMIN, api_client, auth, eventually, running_worker


@pytest.fixture
async def http(pool: asyncpg.Pool, temporal_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    async with running_worker(temporal_env.client, pool) as tq, api_client(pool, temporal_env.client, tq) as client:
        yield client


def body(child_id: object, **overrides: Any) -> dict[str, Any]:
    return {
        "childId": str(child_id),
        "eventType": "assessment",
        "eventData": {"wpm": 52, "passage": "level 6"},
        "content": "Fluency check: 52 words per minute, smoother phrasing than last week.",
    } | overrides


async def test_the_coach_adds_an_event_found_by_text_at_once_and_by_vector_soon(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc()])
    answer = await http.post(
        "/api/learning-events", headers=auth(family.coach.id), json=body(family.child.id, sessionId=str(session_id))
    )
    assert answer.status_code == 201, answer.text
    event = answer.json()
    assert event["session_id"] == str(session_id) and event["coach_id"] == str(family.coach.id)
    assert event["event_data"] == {"wpm": 52, "passage": "level 6"}
    found = await pool.fetchval(
        "SELECT id FROM learning_events"
        " WHERE child_id = $1 AND search_vector @@ websearch_to_tsquery('english', 'fluency')",
        family.child.id,
    )
    assert str(found) == event["id"]  # full text: in the same commit

    async def embedded() -> Any:
        return await pool.fetchval(
            "SELECT vector_dims(embedding) FROM learning_event_embeddings WHERE event_id = $1 AND model = $2",
            found,
            LocalEmbeddingProvider.model,
        )

    assert await eventually(embedded, within=10) == 256  # the worker's embedding workflow, after the commit


async def test_an_admin_may_add_for_any_child(http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    answer = await http.post("/api/learning-events", headers=ADMIN, json=body(family.child.id))
    assert answer.status_code == 201 and answer.json()["coach_id"] is None


@pytest.mark.parametrize(
    ("who", "change", "status"),
    [
        ("stranger", {}, 404),
        ("coach", {"childId": str(uuid4())}, 404),
        ("coach", {"sessionId": "OTHER_SESSION"}, 404),
        ("bad", {}, 401),
        ("coach", {"eventType": "party"}, 422),
        ("coach", {"content": "   "}, 422),
        ("coach", {"content": "nul \x00 byte"}, 422),
        ("coach", {"eventData": {"note": "nul \x00"}}, 422),
        ("coach", {"eventData": {"blob": "x" * 9000}}, 422),
        ("coach", {"eventData": ["not", "an", "object"]}, 422),
        ("coach", {"content": "x" * 4001}, 422),
        ("coach", {"surprise": 1}, 422),
    ],
)
async def test_refusals_change_nothing(
    http: httpx.AsyncClient, pool: asyncpg.Pool, who: str, change: dict[str, Any], status: int
) -> None:
    family, stranger = await make_family(pool), await make_family(pool)
    [other_session] = await make_sessions(pool, stranger, [now_utc()])
    payload = body(family.child.id, **change)
    if payload.get("sessionId") == "OTHER_SESSION":
        payload["sessionId"] = str(other_session)
    headers = {
        "coach": auth(family.coach.id),
        "stranger": auth(stranger.coach.id),
        "bad": {"Authorization": "Bearer x"},
    }
    answer = await http.post("/api/learning-events", headers=headers[who], json=payload)
    assert answer.status_code == status, answer.text
    assert {"error", "detail"} <= set(answer.json())
    assert await pool.fetchval("SELECT count(*) FROM learning_events WHERE child_id = $1", family.child.id) == 0


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_a_non_finite_number_is_a_422_naming_its_field(
    http: httpx.AsyncClient, pool: asyncpg.Pool, number: str
) -> None:
    """JSON has no NaN or Infinity (and 1e400 reads as infinity): refused where it is, not a 500 from
    PostgreSQL's JSON parser."""
    family = await make_family(pool)
    raw = (
        f'{{"childId": "{family.child.id}", "eventType": "assessment", "eventData": {{"wpm": {number}}},'
        ' "content": "Fluency check."}'
    )
    answer = await http.post(
        "/api/learning-events",
        headers=auth(family.coach.id) | {"Content-Type": "application/json"},
        content=raw,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "validation_error"
    assert any("eventData" in f["field"] and "wpm" in f["field"] for f in answer.json()["fields"]), answer.text
    assert await pool.fetchval("SELECT count(*) FROM learning_events WHERE child_id = $1", family.child.id) == 0


@pytest.mark.parametrize("kind", ["session_completed", "session_cancelled", "homework_assigned"])
async def test_a_coach_cannot_post_an_event_only_the_service_writes(
    http: httpx.AsyncClient, pool: asyncpg.Pool, kind: str
) -> None:
    family = await make_family(pool)
    answer = await http.post(
        "/api/learning-events", headers=auth(family.coach.id), json=body(family.child.id, eventType=kind)
    )
    assert answer.status_code == 422, answer.text
    assert any(f["field"] == "eventType" for f in answer.json()["fields"]), answer.text
    assert await pool.fetchval("SELECT count(*) FROM learning_events WHERE child_id = $1", family.child.id) == 0
