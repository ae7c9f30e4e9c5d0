"""Ending an enrolment early (the family leaves): the sessions still to come are cancelled and their calendar
events freed by their workflows, the parent is told once, the learning record stays; exactly once under
ten concurrent requests; hostile input refused."""

import asyncio
import functools
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from temporalio.client import WorkflowExecutionStatus

from coach_sessions.templates import ENROLLMENT_ENDED
from coach_sessions.temporal import enrollment_workflow_id, session_workflow_id
from tests.factories import Family, make_family, now_utc
from tests.helpers import ADMIN, Stack, auth, eventually


async def _enrolled(stack: Stack, pool: asyncpg.Pool, family: Family) -> tuple[UUID, list[dict[str, Any]]]:
    plan = {
        "childId": str(family.child.id),
        "coachId": str(family.coach.id),
        "startDate": (now_utc() - timedelta(days=1)).date().isoformat(),
        "sessionTime": "17:00",
        "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "sessionCount": 5,
    }
    answer = await stack.http.post("/api/enrollments", headers=ADMIN, json=plan)
    assert answer.status_code == 201, answer.text
    enrollment_id = UUID(answer.json()["enrollment"]["id"])
    await stack.env.client.get_workflow_handle(enrollment_workflow_id(enrollment_id)).result()

    async def on_the_calendar() -> bool:
        return not await pool.fetchval(
            "SELECT count(*) FROM scheduled_sessions WHERE enrollment_id = $1 AND google_event_id IS NULL",
            enrollment_id,
        )

    await eventually(on_the_calendar)
    rows = await pool.fetch(
        "SELECT id, status, scheduled_at, google_event_id FROM scheduled_sessions WHERE enrollment_id = $1"
        " ORDER BY session_number",
        enrollment_id,
    )
    return enrollment_id, [dict(r) for r in rows]


def _end(stack: Stack, enrollment_id: UUID, reason: Any = "The family is moving abroad") -> Any:
    return stack.http.post(f"/api/enrollments/{enrollment_id}/end", headers=ADMIN, json={"reason": reason})


async def test_ending_cancels_what_is_to_come_frees_the_calendar_tells_the_parent_once_and_keeps_the_record(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    enrollment_id, sessions = await _enrolled(stack, pool, family)
    to_come = [s for s in sessions if s["scheduled_at"] > now_utc() and s["status"] == "scheduled"]
    started = [s for s in sessions if s not in to_come]
    assert to_come and started, sessions
    events_before = await pool.fetchval("SELECT count(*) FROM learning_events WHERE child_id = $1", family.child.id)
    sent_before = [r for r in stack.aisensy.request_log if ENROLLMENT_ENDED.encode() in r.body]

    answers = await asyncio.gather(*(_end(stack, enrollment_id) for _ in range(10)))
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    assert sorted(a.json()["replayed"] for a in answers) == [False] + [True] * 9
    assert {tuple(a.json()["cancelled_session_ids"]) for a in answers} == {tuple(str(s["id"]) for s in to_come)}

    rows = {
        r["id"]: r for r in await pool.fetch("SELECT * FROM scheduled_sessions WHERE enrollment_id = $1", enrollment_id)
    }
    assert all(rows[s["id"]]["status"] == "cancelled" for s in to_come)
    assert all(rows[s["id"]]["status"] == s["status"] for s in started)  # the started one is the coach's
    enrollment = await pool.fetchrow("SELECT * FROM enrollments WHERE id = $1", enrollment_id)
    assert enrollment["status"] == "ended" and enrollment["end_reason"] == "The family is moving abroad"

    gone = {s["google_event_id"] for s in to_come}

    async def freed() -> bool:
        live = {event_id for _, event_id in stack.calendar.live_events()}
        return not live & gone

    await eventually(freed)
    for session_id in [s["id"] for s in to_come]:  # each workflow adopted its cancelled row and ended
        await eventually(functools.partial(_finished, stack, session_id))

    async def told() -> list[Any]:
        return [r for r in stack.aisensy.request_log if ENROLLMENT_ENDED.encode() in r.body]

    await eventually(lambda: _longer(told, len(sent_before)))
    await asyncio.sleep(0.3)
    assert len(await told()) == len(sent_before) + 1  # told once
    types = [
        r["event_type"]
        for r in await pool.fetch("SELECT event_type FROM learning_events WHERE child_id = $1", family.child.id)
    ]
    assert types.count("enrollment_ended") == 1 and types.count("session_cancelled") >= len(to_come)
    assert len(types) >= events_before + len(to_come) + 1  # nothing of the record removed

    again = await _end(stack, enrollment_id)
    assert again.status_code == 200 and again.json()["replayed"] is True


async def _finished(stack: Stack, session_id: UUID) -> bool:
    described = await stack.env.client.get_workflow_handle(session_workflow_id(session_id)).describe()
    return described.status != WorkflowExecutionStatus.RUNNING


async def _longer(told: Any, than: int) -> bool:
    return len(await told()) > than


@pytest.mark.parametrize("reason", [None, "", "ab", "x" * 501, "a\u0000bc", 12345])
async def test_a_bad_reason_is_422_and_ends_nothing(stack: Stack, pool: asyncpg.Pool, reason: Any) -> None:
    family = await make_family(pool)
    answer = await stack.http.post("/api/enrollments", headers=ADMIN, json={
        "childId": str(family.child.id), "coachId": str(family.coach.id),
        "startDate": (now_utc() + timedelta(days=3)).date().isoformat(), "sessionTime": "17:00",
        "weekdays": ["mon"], "sessionCount": 2,
    })  # fmt: skip
    enrollment_id = answer.json()["enrollment"]["id"]
    refused = await stack.http.post(f"/api/enrollments/{enrollment_id}/end", headers=ADMIN, json={"reason": reason})
    assert refused.status_code == 422, refused.text
    assert await pool.fetchval("SELECT status FROM enrollments WHERE id = $1", UUID(enrollment_id)) == "active"


async def test_only_an_admin_a_missing_one_is_404_and_one_that_is_over_is_409(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    enrollment_id, _ = await _enrolled(stack, pool, family)
    coach = await stack.http.post(
        f"/api/enrollments/{enrollment_id}/end", headers=auth(family.coach.id), json={"reason": "Moving away"}
    )
    assert coach.status_code == 403
    assert (await _end(stack, uuid4())).status_code == 404
    await pool.execute("UPDATE enrollments SET status = 'ended' WHERE id = $1", enrollment_id)  # over by itself
    over = await _end(stack, enrollment_id)
    assert over.status_code == 409 and over.json()["error"] == "conflict", over.text
