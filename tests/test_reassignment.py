"""Reassigning a child to another coach: the sessions still to come move with their calendar events (onto
the new coach's calendar, new Meet links; none left on the old one), the parent is told once, the old
coach loses access, resolved sessions keep their coach; one move under ten concurrent requests."""

import asyncio
from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg

from coach_sessions.templates import COACH_CHANGED
from coach_sessions.temporal import enrollment_workflow_id, reassignment_workflow_id
from tests.factories import Family, make_family, now_utc
from tests.helpers import ADMIN, Stack, auth, eventually


async def enrolled_and_synced(stack: Stack, pool: asyncpg.Pool, family: Family, count: int = 4) -> list[dict[str, Any]]:
    plan = {
        "childId": str(family.child.id),
        "coachId": str(family.coach.id),
        "startDate": (now_utc() - timedelta(days=1)).date().isoformat(),
        "sessionTime": "17:00",
        "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "sessionCount": count,
    }
    answer = await stack.http.post("/api/enrollments", headers=ADMIN, json=plan)
    assert answer.status_code == 201, answer.text
    await stack.env.client.get_workflow_handle(enrollment_workflow_id(answer.json()["enrollment"]["id"])).result()

    async def synced() -> bool:
        return not await pool.fetchval(
            "SELECT count(*) FROM scheduled_sessions WHERE child_id = $1 AND google_event_id IS NULL", family.child.id
        )

    await eventually(synced)
    rows = await pool.fetch(
        "SELECT id, status, scheduled_at, google_event_id, meet_link, coach_id FROM scheduled_sessions"
        " WHERE child_id = $1 ORDER BY session_number",
        family.child.id,
    )
    return [dict(r) for r in rows]


def live_on(stack: Stack, calendar_id: str) -> dict[str, dict[str, Any]]:
    return {event_id: e for (cal, event_id), e in stack.calendar.live_events().items() if cal == calendar_id}


async def test_the_child_moves_with_its_calendar_events_and_the_parent_is_told_once(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    new_coach = (await make_family(pool)).coach
    sessions = await enrolled_and_synced(stack, pool, family)
    to_come = [s for s in sessions if s["scheduled_at"] > now_utc()]
    stays = [s for s in sessions if s not in to_come]
    assert to_come and stays
    old_calendar, new_calendar = family.coach.email, new_coach.email
    assert {s["google_event_id"] for s in to_come} <= set(live_on(stack, old_calendar))
    told_before = sum(1 for r in stack.aisensy.request_log if COACH_CHANGED.encode() in r.body)

    body = {"coachId": str(new_coach.id), "reason": "Coach on leave"}
    answers = await asyncio.gather(
        *(stack.http.post(f"/api/children/{family.child.id}/reassign", headers=ADMIN, json=body) for _ in range(10))
    )
    assert sorted(a.status_code for a in answers) == [200] * 9 + [202], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    moved = answers[0].json()
    assert moved["session_ids"] == [str(s["id"]) for s in to_come]
    await stack.env.client.get_workflow_handle(reassignment_workflow_id(moved["id"])).result()

    rows = {
        r["id"]: r for r in await pool.fetch("SELECT * FROM scheduled_sessions WHERE child_id = $1", family.child.id)
    }
    assert all(rows[s["id"]]["coach_id"] == new_coach.id for s in to_come)
    assert all(rows[s["id"]]["coach_id"] == family.coach.id for s in stays)  # resolved or started: kept

    async def calendars_moved() -> bool:
        old, new = live_on(stack, old_calendar), live_on(stack, new_calendar)
        ids = [
            await pool.fetchval("SELECT google_event_id FROM scheduled_sessions WHERE id = $1", s["id"])
            for s in to_come
        ]
        return not any(s["google_event_id"] in old for s in to_come) and all(i in new for i in ids)

    await eventually(calendars_moved)
    new_events = live_on(stack, new_calendar)
    for s in to_come:
        row = await pool.fetchrow("SELECT google_event_id, meet_link FROM scheduled_sessions WHERE id = $1", s["id"])
        assert row["meet_link"] and row["meet_link"] == new_events[row["google_event_id"]]["hangoutLink"]
        assert row["meet_link"] != s["meet_link"]  # a new Meet link
    assert len([e for e in new_events if e in {rows[s["id"]]["google_event_id"] for s in to_come}]) == len(to_come)

    async def told() -> int:
        return sum(1 for r in stack.aisensy.request_log if COACH_CHANGED.encode() in r.body)

    await eventually(lambda: _more(told, told_before))
    await asyncio.sleep(0.3)
    assert await told() == told_before + 1

    # The old coach loses the child; the new coach has it.
    moved_session = to_come[0]["id"]
    old = await stack.http.get(f"/api/sessions/{moved_session}", headers=auth(family.coach.id))
    assert old.status_code == 404, old.text
    assert (
        await stack.http.get(f"/api/children/{family.child.id}/progress", headers=auth(family.coach.id))
    ).status_code == 404
    assert (await stack.http.get(f"/api/sessions/{moved_session}", headers=auth(new_coach.id))).status_code == 200
    types = [
        r["event_type"]
        for r in await pool.fetch("SELECT event_type FROM learning_events WHERE child_id = $1", family.child.id)
    ]
    assert types.count("coach_reassigned") == 1

    again = await stack.http.post(f"/api/children/{family.child.id}/reassign", headers=ADMIN, json=body)
    assert again.status_code == 200 and again.json()["id"] == moved["id"] and again.json()["status"] == "done"


async def _more(count: Any, than: int) -> bool:
    return await count() > than


async def test_refusals_change_nothing(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    other = await make_family(pool)
    url = f"/api/children/{family.child.id}/reassign"
    same = await stack.http.post(url, headers=ADMIN, json={"coachId": str(family.coach.id)})
    assert same.status_code == 409, same.text
    await stack.http.post(f"/api/coaches/{other.coach.id}/deactivate", headers=ADMIN)
    off = await stack.http.post(url, headers=ADMIN, json={"coachId": str(other.coach.id)})
    assert off.status_code == 409, off.text
    assert (await stack.http.post(url, headers=ADMIN, json={"coachId": str(uuid4())})).status_code == 404
    missing = f"/api/children/{uuid4()}/reassign"
    assert (await stack.http.post(missing, headers=ADMIN, json={"coachId": str(other.coach.id)})).status_code == 404
    coach = await stack.http.post(url, headers=auth(family.coach.id), json={"coachId": str(other.coach.id)})
    assert coach.status_code == 403
    for bad in ({"coachId": "nope"}, {"coachId": str(other.coach.id), "reason": "x"}, {}, {"coachId": None}):
        assert (await stack.http.post(url, headers=ADMIN, json=bad)).status_code == 422, bad
    assert await pool.fetchval("SELECT coach_id FROM children WHERE id = $1", family.child.id) == family.coach.id
    assert not await pool.fetchval("SELECT count(*) FROM reassignments WHERE child_id = $1", family.child.id)
