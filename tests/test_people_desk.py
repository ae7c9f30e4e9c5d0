"""The desk's people: list parents; edit coaches, parents and children (only what is sent; 409 for another's
email or phone; hostile bodies refused); deactivate a coach (no new enrolment) or a parent (no message)."""

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, Stack, auth, eventually
from tests.test_ops_desk import _stuck_message


async def test_edits_change_only_what_is_sent_and_a_duplicate_is_409(stack: Stack, pool: asyncpg.Pool) -> None:
    family, other = await make_family(pool), await make_family(pool)
    answer = await stack.http.patch(
        f"/api/coaches/{family.coach.id}", headers=ADMIN, json={"name": "Asha Rao", "calendarId": "asha@example.org"}
    )
    assert answer.status_code == 200, answer.text
    coach = answer.json()
    assert (coach["name"], coach["calendar_id"], coach["email"]) == ("Asha Rao", "asha@example.org", family.coach.email)
    cleared = await stack.http.patch(f"/api/coaches/{family.coach.id}", headers=ADMIN, json={"calendarId": None})
    assert cleared.status_code == 200 and cleared.json()["calendar_id"] is None

    taken = await stack.http.patch(f"/api/coaches/{family.coach.id}", headers=ADMIN, json={"email": other.coach.email})
    assert taken.status_code == 409 and taken.json()["error"] == "conflict", taken.text
    phone = await stack.http.patch(
        f"/api/parents/{family.parent.id}", headers=ADMIN, json={"phone": other.parent.phone}
    )
    assert phone.status_code == 409, phone.text
    renamed = await stack.http.patch(
        f"/api/children/{family.child.id}", headers=ADMIN, json={"name": "Meera", "age": 9}
    )
    assert renamed.status_code == 200 and (renamed.json()["name"], renamed.json()["age"]) == ("Meera", 9)
    parents = await stack.http.get("/api/parents", headers=ADMIN)
    assert parents.status_code == 200 and str(family.parent.id) in {p["id"] for p in parents.json()["parents"]}
    row = await pool.fetchrow("SELECT email, phone FROM coaches WHERE id = $1", family.coach.id)
    assert row["email"] == family.coach.email  # the refused edit changed nothing


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("coaches", {"name": None}),
        ("coaches", {"email": "not an email"}),
        ("coaches", {"timezone": "Mars/Olympus"}),
        ("coaches", {"name": "a\u0000b"}),
        ("coaches", {"role": "admin"}),
        ("parents", {"phone": "12345"}),
        ("parents", {"phone": None}),
        ("children", {"age": 99}),
        ("children", {"age": "9"}),
        ("children", {"age": 1e308}),
        ("children", {"name": "x" * 201}),
    ],
)
async def test_hostile_edits_are_422_and_change_nothing(
    stack: Stack, pool: asyncpg.Pool, path: str, body: dict[str, Any]
) -> None:
    family = await make_family(pool)
    target = {"coaches": family.coach.id, "parents": family.parent.id, "children": family.child.id}[path]
    before = await pool.fetchrow(f"SELECT * FROM {path} WHERE id = $1", target)
    answer = await stack.http.patch(f"/api/{path}/{target}", headers=ADMIN, json=body)
    assert answer.status_code == 422, answer.text
    assert await pool.fetchrow(f"SELECT * FROM {path} WHERE id = $1", target) == before


async def test_only_admins_and_missing_rows(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    coach = auth(family.coach.id)
    for method, path, body in (
        ("GET", "/api/parents", None),
        ("PATCH", f"/api/coaches/{family.coach.id}", {"name": "Me"}),
        ("PATCH", f"/api/children/{family.child.id}", {"age": 9}),
        ("POST", f"/api/coaches/{family.coach.id}/deactivate", None),
        ("POST", f"/api/parents/{family.parent.id}/deactivate", None),
    ):
        assert (await stack.http.request(method, path, headers=coach, json=body)).status_code == 403, path
    assert await pool.fetchval("SELECT deactivated_at FROM coaches WHERE id = $1", family.coach.id) is None
    for method, path, body in (
        ("PATCH", f"/api/coaches/{uuid4()}", {"name": "X"}),
        ("PATCH", f"/api/parents/{uuid4()}", {"name": "X"}),
        ("PATCH", f"/api/children/{uuid4()}", {"age": 9}),
        ("POST", f"/api/coaches/{uuid4()}/deactivate", None),
        ("POST", f"/api/parents/{uuid4()}/deactivate", None),
    ):
        assert (await stack.http.request(method, path, headers=ADMIN, json=body)).status_code == 404, path


async def test_a_deactivated_coach_takes_no_new_enrolment(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    answers = await asyncio.gather(
        *(stack.http.post(f"/api/coaches/{family.coach.id}/deactivate", headers=ADMIN) for _ in range(10))
    )
    assert {a.status_code for a in answers} == {200} and len({a.json()["deactivated_at"] for a in answers}) == 1
    plan = {
        "childId": str(family.child.id),
        "coachId": str(family.coach.id),
        "startDate": (now_utc() + timedelta(days=2)).date().isoformat(),
        "sessionTime": "17:00",
        "weekdays": ["mon"],
        "sessionCount": 2,
    }
    refused = await stack.http.post("/api/enrollments", headers=ADMIN, json=plan)
    assert refused.status_code == 409 and refused.json()["error"] == "conflict", refused.text
    assert not await pool.fetchval("SELECT count(*) FROM enrollments WHERE child_id = $1", family.child.id)


async def test_a_deactivated_parent_gets_no_message(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [done] = await make_sessions(pool, family, [now_utc() - hours(3)], statuses=["pending"])
    answer = await stack.http.post(f"/api/parents/{family.parent.id}/deactivate", headers=ADMIN)
    assert answer.status_code == 200 and answer.json()["deactivated_at"] is not None, answer.text
    before = len(stack.aisensy.request_log)
    body = {"sessionId": str(done), "parentMessage": "Great reading today"}
    completed = await stack.http.post("/api/sessions/complete", headers=auth(family.coach.id), json=body)
    assert completed.status_code == 200, completed.text

    async def dropped() -> bool:
        statuses = await pool.fetch("SELECT status FROM outbound_messages WHERE session_id = $1", done)
        return bool(statuses) and {r["status"] for r in statuses} == {"dropped"}

    await eventually(dropped)
    assert len(stack.aisensy.request_log) == before
    # A message queued earlier and resent from the desk is not sent either.
    stuck = await _stuck_message(pool, family, done)
    seen = await pool.fetchval("SELECT updated_at FROM outbound_messages WHERE id = $1", stuck)
    resent = await stack.http.post(
        f"/api/ops/messages/{stuck}/resend", headers=ADMIN, json={"seenUpdatedAt": seen.isoformat()}
    )
    assert resent.status_code == 200, resent.text
    await eventually(lambda: _status_is(pool, stuck, "dropped"))
    assert len(stack.aisensy.request_log) == before


async def _status_is(pool: asyncpg.Pool, message_id: object, status: str) -> bool:
    return await pool.fetchval("SELECT status FROM outbound_messages WHERE id = $1", message_id) == status


async def test_an_enrolment_preview_shows_each_session_and_its_clashes_and_creates_nothing(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool, timezone="Asia/Kolkata")
    other = await make_family(pool, coach=family.coach)
    monday = now_utc().date() + timedelta(days=7 - now_utc().weekday() + 7)  # a Monday over a week ahead
    # The coach already teaches another child on that Monday at 17:00 IST (11:30 UTC).
    taken = datetime.combine(monday, time(11, 30), tzinfo=UTC)
    await make_sessions(pool, other, [taken])
    plan = {
        "childId": str(family.child.id),
        "coachId": str(family.coach.id),
        "startDate": monday.isoformat(),
        "sessionTime": "17:00",
        "weekdays": ["mon", "wed"],
        "sessionCount": 3,
    }
    before = await pool.fetchval("SELECT count(*) FROM scheduled_sessions WHERE child_id = $1", family.child.id)
    answer = await stack.http.post("/api/enrollments/preview", headers=ADMIN, json=plan)
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["timezone"] == "Asia/Kolkata" and preview["calendar_checked"] is True
    rows = [(s["session_number"], s["local_date"], s["local_time"], s["weekday"]) for s in preview["sessions"]]
    assert rows == [
        (1, monday.isoformat(), "17:00", "mon"),
        (2, (monday + timedelta(days=2)).isoformat(), "17:00", "wed"),
        (3, (monday + timedelta(days=7)).isoformat(), "17:00", "mon"),
    ]
    assert [s["clashes"] for s in preview["sessions"]] == [["coach_session"], [], []]
    after = await pool.fetchval("SELECT count(*) FROM scheduled_sessions WHERE child_id = $1", family.child.id)
    assert after == before and not await pool.fetchval(
        "SELECT count(*) FROM enrollments WHERE child_id = $1", family.child.id
    )
    late = await stack.http.post("/api/enrollments/preview", headers=ADMIN, json=plan | {"sessionTime": "22:30"})
    assert all("outside_working_hours" in s["clashes"] for s in late.json()["sessions"]), late.text
    assert (
        await stack.http.post("/api/enrollments/preview", headers=auth(family.coach.id), json=plan)
    ).status_code == 403
    missing = await stack.http.post("/api/enrollments/preview", headers=ADMIN, json=plan | {"coachId": str(uuid4())})
    assert missing.status_code == 404
