"""POST /api/homework, /api/assessments and /api/learning-events with an Idempotency-Key: at most one
row per (caller, key). A retry, or ten copies at once, answer the one row; the key with another body is
422 idempotency_key_reused and writes nothing; another caller's same key is its own row; no key, as before."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from tests.factories import Family, hours, make_family, now_utc
from tests.helpers import ADMIN, Stack, auth


@dataclass(frozen=True)
class Create:
    path: str
    table: str  # where its row is
    event_type: str  # the learning event that goes with it
    body: Callable[[UUID], dict[str, Any]]
    other: dict[str, Any]  # the same key with these fields is another request


def _assessment(child_id: UUID) -> dict[str, Any]:
    return {"childId": str(child_id), "kind": "phonics", "score": 72.5}


def _homework(child_id: UUID) -> dict[str, Any]:
    return {
        "childId": str(child_id),
        "title": "Read 'Owl Babies' aloud",
        "dueDate": str((now_utc() + timedelta(days=3)).date()),
    }


def _event(child_id: UUID) -> dict[str, Any]:
    return {
        "childId": str(child_id),
        "eventType": "quiz",
        "eventData": {"wpm": 52, "passage": "level 6"},
        "content": "Fluency check: 52 words per minute, smoother phrasing than last week.",
    }


CREATES = [
    Create("/api/assessments", "assessments", "assessment", _assessment, {"score": 80}),
    Create("/api/homework", "homework_assignments", "homework_assigned", _homework, {"title": "Spell ten words"}),
    Create("/api/learning-events", "learning_events", "quiz", _event, {"content": "Another observation."}),
]


@pytest.fixture(params=CREATES, ids=[c.table for c in CREATES])
def create(request: pytest.FixtureRequest) -> Create:
    return request.param


async def _rows(pool: asyncpg.Pool, create: Create, family: Family) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM {create.table} WHERE child_id = $1", family.child.id))


async def _events(pool: asyncpg.Pool, create: Create, family: Family) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM learning_events WHERE child_id = $1 AND event_type = $2",
            family.child.id,
            create.event_type,
        )
    )


def _keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return headers | {"Idempotency-Key": key}


async def test_a_retry_with_the_key_answers_the_one_row(stack: Stack, pool: asyncpg.Pool, create: Create) -> None:
    family = await make_family(pool)
    headers = _keyed(auth(family.coach.id), f"form-{uuid4()}")
    first = await stack.http.post(create.path, json=create.body(family.child.id), headers=headers)
    again = await stack.http.post(create.path, json=create.body(family.child.id), headers=headers)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert first.json() == again.json()
    assert await _rows(pool, create, family) == 1
    assert await _events(pool, create, family) == 1


async def test_ten_copies_at_once_write_one_row(stack: Stack, pool: asyncpg.Pool, create: Create) -> None:
    family = await make_family(pool)
    headers = _keyed(auth(family.coach.id), f"form-{uuid4()}")
    answers = await asyncio.gather(
        *(stack.http.post(create.path, json=create.body(family.child.id), headers=headers) for _ in range(10))
    )
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert all(a.json() == answers[0].json() for a in answers)
    assert await _rows(pool, create, family) == 1
    assert await _events(pool, create, family) == 1


async def test_the_key_with_another_body_is_refused_and_writes_nothing(
    stack: Stack, pool: asyncpg.Pool, create: Create
) -> None:
    family = await make_family(pool)
    headers = _keyed(auth(family.coach.id), f"form-{uuid4()}")
    first = await stack.http.post(create.path, json=create.body(family.child.id), headers=headers)
    assert first.status_code == 201, first.text
    other = await stack.http.post(create.path, json=create.body(family.child.id) | create.other, headers=headers)
    assert other.status_code == 422, other.text
    assert other.json()["error"] == "idempotency_key_reused"
    assert await _rows(pool, create, family) == 1
    assert await _events(pool, create, family) == 1


async def test_keys_are_per_caller(stack: Stack, pool: asyncpg.Pool, create: Create) -> None:
    """Another coach's form (its own child), or an admin on this child, with the same key: their own rows."""
    family, stranger = await make_family(pool), await make_family(pool)
    key = f"form-{uuid4()}"
    mine = await stack.http.post(
        create.path, json=create.body(family.child.id), headers=_keyed(auth(family.coach.id), key)
    )
    theirs = await stack.http.post(
        create.path, json=create.body(stranger.child.id), headers=_keyed(auth(stranger.coach.id), key)
    )
    admins = await stack.http.post(create.path, json=create.body(family.child.id), headers=_keyed(ADMIN, key))
    assert mine.status_code == theirs.status_code == admins.status_code == 201, (mine.text, theirs.text, admins.text)
    assert len({mine.json()["id"], theirs.json()["id"], admins.json()["id"]}) == 3
    assert await _rows(pool, create, family) == 2
    assert await _rows(pool, create, stranger) == 1


async def test_without_a_key_each_post_is_a_row(stack: Stack, pool: asyncpg.Pool, create: Create) -> None:
    family = await make_family(pool)
    me = auth(family.coach.id)
    first = await stack.http.post(create.path, json=create.body(family.child.id), headers=me)
    second = await stack.http.post(create.path, json=create.body(family.child.id), headers=me)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] != second.json()["id"]
    assert await _rows(pool, create, family) == 2


async def test_an_assessment_retried_without_its_instant_is_the_same_request(stack: Stack, pool: asyncpg.Pool) -> None:
    """assessedAt defaults to now: two attempts that leave it out differ in "now", not in what was sent.
    One that sends another assessedAt is another request."""
    family = await make_family(pool)
    headers = _keyed(auth(family.coach.id), f"form-{uuid4()}")
    body = _assessment(family.child.id)
    first = await stack.http.post("/api/assessments", json=body, headers=headers)
    await asyncio.sleep(0.01)
    again = await stack.http.post("/api/assessments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    earlier = (now_utc() - hours(5)).isoformat()
    other = await stack.http.post("/api/assessments", json=body | {"assessedAt": earlier}, headers=headers)
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused", other.text
    assert await _rows(pool, CREATES[0], family) == 1
