"""Enrolling twice makes one enrollment; a child has one active enrollment per coach; an enrollment
never exists without its sessions (and needs no worker to be answered)."""

import asyncio
from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg
from temporalio.testing import WorkflowEnvironment

from coach_sessions.temporal import session_workflow_id
from tests.factories import Family, make_family, now_utc
from tests.helpers import ADMIN, Stack, api_client, eventually, running_worker


def _body(family: Family, **overrides: Any) -> dict[str, Any]:
    return {
        "childId": str(family.child.id),
        "coachId": str(family.coach.id),
        "startDate": (now_utc() + timedelta(days=2)).date().isoformat(),
        "sessionTime": "17:00",
        "weekdays": ["tue", "fri"],
        "sessionCount": 2,
    } | overrides


async def _count(pool: asyncpg.Pool, family: Family) -> tuple[int, int]:
    enrollments = await pool.fetchval("SELECT count(*) FROM enrollments WHERE child_id = $1", family.child.id)
    sessions = await pool.fetchval("SELECT count(*) FROM scheduled_sessions WHERE child_id = $1", family.child.id)
    return enrollments, sessions


async def test_the_same_enrollment_posted_twice_is_one_enrollment(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    first = await stack.http.post("/api/enrollments", headers=ADMIN, json=_body(family))
    again = await stack.http.post("/api/enrollments", headers=ADMIN, json=_body(family))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["enrollment"]["id"] == first.json()["enrollment"]["id"]
    assert [s["id"] for s in again.json()["sessions"]] == [s["id"] for s in first.json()["sessions"]]
    assert await _count(pool, family) == (1, 2)


async def test_concurrent_duplicates_make_one_enrollment(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    answers = await asyncio.gather(
        *(stack.http.post("/api/enrollments", headers=ADMIN, json=_body(family)) for _ in range(6))
    )
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.json()["enrollment"]["id"] for a in answers}) == 1
    assert await _count(pool, family) == (1, 2)


async def test_another_plan_while_one_is_active_is_refused(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    first = await stack.http.post("/api/enrollments", headers=ADMIN, json=_body(family))
    later = (now_utc() + timedelta(days=30)).date().isoformat()
    refused = await stack.http.post("/api/enrollments", headers=ADMIN, json=_body(family, startDate=later))
    assert refused.status_code == 409
    assert refused.json()["error"] == "enrollment_exists"
    assert refused.json()["enrollment_id"] == first.json()["enrollment"]["id"]
    assert await _count(pool, family) == (1, 2)


async def test_a_finished_enrollment_lets_the_child_enroll_again(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    first = await stack.http.post("/api/enrollments", headers=ADMIN, json=_body(family))
    for session in first.json()["sessions"]:
        cancelled = await stack.http.delete(
            "/api/sessions", headers=ADMIN, params={"sessionId": session["id"], "reason": "family moved away"}
        )
        assert cancelled.status_code == 200, cancelled.text
    status = await pool.fetchval("SELECT status FROM enrollments WHERE id = $1", first.json()["enrollment"]["id"])
    assert status == "ended"
    later = (now_utc() + timedelta(days=30)).date().isoformat()
    again = await stack.http.post("/api/enrollments", headers=ADMIN, json=_body(family, startDate=later))
    assert again.status_code == 201
    assert await _count(pool, family) == (2, 4)


async def test_a_plan_past_the_calendar_end_leaves_nothing_behind(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    answer = await stack.http.post(
        "/api/enrollments",
        headers=ADMIN,
        json=_body(family, startDate="9999-12-20", weekdays=["mon"], sessionCount=10),
    )
    assert answer.status_code == 422, answer.text
    assert await _count(pool, family) == (0, 0)


async def test_enrolling_needs_no_worker_and_the_sessions_start_when_one_polls(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    family = await make_family(pool)
    task_queue = f"test-{uuid4()}"
    async with api_client(pool, temporal_env.client, task_queue) as http:
        answer = await http.post("/api/enrollments", headers=ADMIN, json=_body(family))
    assert answer.status_code == 201, answer.text
    assert len(answer.json()["sessions"]) == 2
    async with running_worker(temporal_env.client, pool, task_queue=task_queue):
        for session in answer.json()["sessions"]:
            handle = temporal_env.client.get_workflow_handle(session_workflow_id(session["id"]))

            async def running(handle: Any = handle) -> bool:
                try:
                    await handle.describe()
                    return True
                except Exception:
                    return False

            await eventually(running)
