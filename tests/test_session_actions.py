"""Session actions as workflow updates: success paths, every refusal, and their side effects."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from coach_sessions.contracts import SessionWorkflowResult
from coach_sessions.statuses import Role
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, Stack, auth, eventually


async def _row(pool: asyncpg.Pool, session_id: UUID) -> dict[str, Any]:
    return dict(await pool.fetchrow("SELECT * FROM scheduled_sessions WHERE id = $1", session_id))


async def _events(pool: asyncpg.Pool, session_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT event_type, event_data, content_for_embedding FROM learning_events WHERE session_id = $1"
        " ORDER BY created_at",
        session_id,
    )
    return [dict(r) for r in rows]


async def _messages(pool: asyncpg.Pool, session_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM outbound_messages WHERE session_id = $1 ORDER BY created_at", session_id)
    return [dict(r) for r in rows]


async def _past_family(pool: asyncpg.Pool, count: int = 3) -> tuple[Family, list[UUID]]:
    family = await make_family(pool)
    now = now_utc()
    ids = await make_sessions(
        pool, family, [now - hours(24 * (count - i)) for i in range(count)], statuses=["pending"] * count
    )
    return family, ids


async def test_complete_records_event_and_sends_the_summary(stack: Stack, pool: asyncpg.Pool) -> None:
    family, ids = await _past_family(pool, 1)
    response = await stack.http.post(
        "/api/sessions/complete",
        headers=auth(family.coach.id),
        json={"sessionId": str(ids[0]), "notes": "Read 3 pages fluently"},
    )
    assert response.status_code == 200, response.text
    session = response.json()["session"]
    assert session["status"] == "completed" and session["completed_at"]
    assert session["coach_notes"] == "Read 3 pages fluently"
    events = await _events(pool, ids[0])
    assert [e["event_type"] for e in events] == ["session_completed"]
    assert events[0]["content_for_embedding"] == "Session 1 completed: Read 3 pages fluently"
    await eventually(lambda: _sent(pool, ids[0], 1))
    [sent] = stack.aisensy.messages
    assert sent["campaignName"] == "P21_session_summary"
    assert sent["destination"] == family.parent.phone
    assert family.child.name in sent["templateParams"]


async def _sent(pool: asyncpg.Pool, session_id: UUID, count: int) -> bool:
    messages = await _messages(pool, session_id)
    return len(messages) == count and all(m["status"] == "sent" for m in messages)


@pytest.mark.parametrize("notify", [True, False])
async def test_mark_missed_notifies_the_parent_only_when_asked(stack: Stack, pool: asyncpg.Pool, notify: bool) -> None:
    family, ids = await _past_family(pool, 1)
    response = await stack.http.post(
        "/api/sessions/missed",
        headers=auth(family.coach.id),
        json={"sessionId": str(ids[0]), "notifyParent": notify},
    )
    assert response.status_code == 200, response.text
    assert response.json()["session"]["status"] == "missed"
    assert [e["event_type"] for e in await _events(pool, ids[0])] == ["session_missed"]
    if notify:
        await eventually(lambda: _sent(pool, ids[0], 1))
        assert [m["campaignName"] for m in stack.aisensy.messages] == ["P23_session_noshow"]
    else:
        assert await _messages(pool, ids[0]) == []


async def test_reschedule_moves_the_session_and_creates_a_calendar_event_with_meet(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family, ids = await _past_family(pool, 1)
    new_day = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=3)).date()
    response = await stack.http.patch(
        "/api/sessions",
        headers=auth(family.coach.id),
        json={
            "sessionId": str(ids[0]),
            "newDate": new_day.isoformat(),
            "newTime": "18:30",
            "reason": "Child unwell",
        },
    )
    assert response.status_code == 200, response.text
    session = response.json()["session"]
    assert session["status"] == "rescheduled"
    expected = datetime.combine(new_day, datetime.strptime("18:30", "%H:%M").time(), ZoneInfo("Asia/Kolkata"))
    assert datetime.fromisoformat(session["scheduled_at"]) == expected
    [event] = await _events(pool, ids[0])
    assert event["event_type"] == "session_rescheduled"
    assert event["event_data"]["reason"] == "Child unwell"
    assert datetime.fromisoformat(event["event_data"]["new_scheduled_at"]) == expected
    assert "rescheduled from" in event["content_for_embedding"]

    row = await eventually(lambda: _synced(pool, ids[0]))
    assert row["meet_link"].startswith("https://meet.google.com/")
    [google_event] = stack.calendar.live_events().values()
    assert google_event["id"] == row["google_event_id"]
    assert datetime.fromisoformat(google_event["start"]["dateTime"]) == expected
    # the old timer no longer applies: nothing turns the rescheduled session "pending"
    await stack.env.sleep(timedelta(days=5))
    assert (await _row(pool, ids[0]))["status"] == "rescheduled"


async def _synced(pool: asyncpg.Pool, session_id: UUID) -> dict[str, Any] | None:
    row = await _row(pool, session_id)
    return row if row["calendar_sync_status"] == "synced" else None


async def test_reschedule_twice_moves_the_same_calendar_event(stack: Stack, pool: asyncpg.Pool) -> None:
    family, ids = await _past_family(pool, 1)
    for days in (2, 4):
        day = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=days)).date().isoformat()
        response = await stack.http.patch(
            "/api/sessions",
            headers=auth(family.coach.id),
            json={"sessionId": str(ids[0]), "newDate": day, "newTime": "10:00"},
        )
        assert response.status_code == 200, response.text
        await eventually(lambda: _synced(pool, ids[0]))
    [google_event] = stack.calendar.live_events().values()
    row = await _row(pool, ids[0])
    assert datetime.fromisoformat(google_event["start"]["dateTime"]) == row["scheduled_at"]


async def test_admin_cancel_frees_the_calendar_slot(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(48)])
    # the session workflow creates its calendar event when it starts
    day = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=5)).date().isoformat()
    moved = await stack.http.patch(
        "/api/sessions",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "newDate": day, "newTime": "11:00"},
    )
    assert moved.status_code == 200
    await eventually(lambda: _synced(pool, session_id))
    assert len(stack.calendar.live_events()) == 1

    coach_try = await stack.http.delete(
        f"/api/sessions?sessionId={session_id}&reason=Coach+travelling", headers=auth(family.coach.id)
    )
    assert coach_try.status_code == 403
    assert coach_try.json()["error"] == "parent_consent_required"

    response = await stack.http.delete(f"/api/sessions?sessionId={session_id}&reason=Parent+requested", headers=ADMIN)
    assert response.status_code == 200, response.text
    session = response.json()["session"]
    assert session["status"] == "cancelled" and session["coach_notes"] == "Parent requested"
    await eventually(lambda: _synced(pool, session_id))
    assert stack.calendar.live_events() == {}
    events = await _events(pool, session_id)
    assert [e["event_type"] for e in events] == ["session_rescheduled", "session_cancelled"]
    assert events[1]["content_for_embedding"] == "Session 1 cancelled: Parent requested"
    handle = stack.env.client.get_workflow_handle(f"session-{session_id}", result_type=SessionWorkflowResult)
    assert (await handle.result()).final_status == "cancelled"


async def _unchanged(pool: asyncpg.Pool, session_id: UUID, before: dict[str, Any]) -> None:
    after = await _row(pool, session_id)
    assert after["version"] == before["version"] and after["status"] == before["status"]
    assert await _events(pool, session_id) == []
    assert await _messages(pool, session_id) == []


async def test_refusals_change_nothing_and_send_nothing(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    now = now_utc()
    ids = await make_sessions(
        pool,
        family,
        [now - hours(72), now - hours(48), now + hours(48), now - hours(96), now + hours(72)],
        statuses=["pending", "pending", "scheduled", "completed", "scheduled"],
    )
    coach = auth(family.coach.id)
    future_day = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=9)).date().isoformat()
    await pool.execute(
        "UPDATE scheduled_sessions SET cancellation_status = 'pending', cancellation_reason = 'travel',"
        " cancellation_requested_at = now(), cancellation_expires_at = now() + interval '48 hours'"
        " WHERE id = $1",
        ids[2],
    )
    cases: list[tuple[str, str, dict[str, Any], int, str, dict[str, Any]]] = [
        # (method, url, body, status, error, extra)
        (
            "POST",
            "/api/sessions/complete",
            {"sessionId": str(ids[1])},
            409,
            "session_locked",
            {"blocking_session_number": 1},
        ),
        (
            "POST",
            "/api/sessions/missed",
            {"sessionId": str(ids[1])},
            409,
            "session_locked",
            {"blocking_session_number": 1},
        ),
        ("POST", "/api/sessions/complete", {"sessionId": str(ids[2])}, 409, "cancellation_pending", {}),
        ("POST", "/api/sessions/missed", {"sessionId": str(ids[4])}, 409, "session_not_started", {}),
        (
            "POST",
            "/api/sessions/complete",
            {"sessionId": str(ids[3])},
            409,
            "invalid_status",
            {"current_status": "completed"},
        ),
        (
            "PATCH",
            "/api/sessions",
            {"sessionId": str(ids[2]), "newDate": future_day, "newTime": "10:00"},
            409,
            "cancellation_pending",
            {},
        ),
        (
            "PATCH",
            "/api/sessions",
            {"sessionId": str(ids[0]), "newDate": "2020-01-01", "newTime": "10:00"},
            422,
            "time_in_past",
            {},
        ),
        (
            "PATCH",
            "/api/sessions",
            {"sessionId": str(ids[0]), "newDate": "01/02/2027", "newTime": "10:00"},
            422,
            "validation_error",
            {},
        ),
        (
            "PATCH",
            "/api/sessions",
            {"sessionId": str(ids[0]), "newDate": future_day, "newTime": "25:00"},
            422,
            "validation_error",
            {},
        ),
        (
            "PATCH",
            "/api/sessions",
            {"sessionId": str(ids[0]), "newDate": future_day, "newTime": "10:00", "reason": ""},
            422,
            "validation_error",
            {},
        ),
        (
            "PATCH",
            "/api/sessions",
            {"sessionId": str(ids[0]), "newDate": future_day, "newTime": "10:00", "reason": "x" * 501},
            422,
            "validation_error",
            {},
        ),
        ("POST", "/api/sessions/complete", {"sessionId": "not-a-uuid"}, 422, "validation_error", {}),
        (
            "POST",
            "/api/sessions/missed",
            {"sessionId": str(ids[0]), "notifyParent": "perhaps"},
            422,
            "validation_error",
            {},
        ),
    ]
    before = {i: await _row(pool, i) for i in ids}
    for method, url, body, status, error, extra in cases:
        response = await stack.http.request(method, url, headers=coach, json=body)
        assert response.status_code == status, (url, body, response.text)
        payload = response.json()
        assert payload["error"] == error, (url, body, payload)
        for key, value in extra.items():
            assert payload[key] == value, (url, payload)
    for session_id in ids[:3] + ids[4:]:
        await _unchanged(pool, session_id, before[session_id])
    admin_delete = [
        f"/api/sessions?sessionId={ids[0]}&reason=",
        f"/api/sessions?sessionId={ids[0]}&reason={'y' * 501}",
        f"/api/sessions?sessionId={ids[0]}",
        f"/api/sessions?sessionId={ids[2]}&reason=clash",  # cancellation pending
    ]
    for url in admin_delete:
        response = await stack.http.delete(url, headers=ADMIN)
        assert response.status_code in (409, 422), (url, response.text)
    for session_id in ids[:3]:
        await _unchanged(pool, session_id, before[session_id])
    assert stack.aisensy.messages == []


async def test_resolving_in_order_unlocks_the_next_session(stack: Stack, pool: asyncpg.Pool) -> None:
    family, ids = await _past_family(pool, 3)
    coach = auth(family.coach.id)
    assert (
        await stack.http.post("/api/sessions/complete", headers=coach, json={"sessionId": str(ids[1])})
    ).status_code == 409
    assert (
        await stack.http.post("/api/sessions/missed", headers=coach, json={"sessionId": str(ids[0])})
    ).status_code == 200
    unlocked = await stack.http.post("/api/sessions/complete", headers=coach, json={"sessionId": str(ids[1])})
    assert unlocked.status_code == 200, unlocked.text
    listed = (await stack.http.get(f"/api/sessions?childId={family.child.id}", headers=coach)).json()["sessions"]
    assert [s["status"] for s in listed] == ["missed", "completed", "pending"]
    assert [s["is_locked"] for s in listed] == [False, False, False]


async def test_concurrent_complete_of_4_and_5_never_breaks_the_order(stack: Stack, pool: asyncpg.Pool) -> None:
    """Two tabs complete sessions 4 and 5 at once, many times: 5 is never done while 4 is open."""
    outcomes = set()
    for _ in range(12):
        family = await make_family(pool)
        now = now_utc()
        ids = await make_sessions(
            pool,
            family,
            [now - hours(100 - i) for i in range(5)],
            statuses=["completed", "completed", "completed", "pending", "pending"],
        )
        coach = auth(family.coach.id)
        four, five = await asyncio.gather(
            stack.http.post("/api/sessions/complete", headers=coach, json={"sessionId": str(ids[3])}),
            stack.http.post("/api/sessions/complete", headers=coach, json={"sessionId": str(ids[4])}),
        )
        assert four.status_code == 200, four.text
        assert five.status_code in (200, 409), five.text
        outcomes.add(five.status_code)
        statuses = [
            r["status"]
            for r in await pool.fetch(
                "SELECT status FROM scheduled_sessions WHERE enrollment_id ="
                " (SELECT enrollment_id FROM scheduled_sessions WHERE id = $1) ORDER BY session_number",
                ids[0],
            )
        ]
        if statuses[4] == "completed":
            assert statuses[3] == "completed"
        if five.status_code == 409:
            assert five.json()["error"] == "session_locked"
    assert outcomes  # at least one run happened


async def test_repository_race_many_times(pool: asyncpg.Pool) -> None:
    """The same race straight at the transaction, without Temporal's pacing in between."""
    from activities.sessions import run_transition
    from coach_sessions.contracts import Actor, SessionAction, TransitionRequest
    from coach_sessions.errors import DomainError
    from coach_sessions.repositories.sessions import SessionRepository

    repo = SessionRepository(pool)
    for run in range(40):
        family = await make_family(pool)
        now = now_utc()
        ids = await make_sessions(
            pool, family, [now - hours(10 - i) for i in range(2)], statuses=["pending", "pending"]
        )

        async def complete(session_id: UUID, run: int = run, family: Family = family) -> str:
            try:
                await run_transition(
                    repo,
                    TransitionRequest(
                        session_id=session_id,
                        action=SessionAction.COMPLETE,
                        request_id=f"race-{run}-{session_id}",
                        actor=Actor(id=family.coach.id, role=Role.COACH.value),
                        now=datetime.now(UTC),
                    ),
                )
                return "ok"
            except DomainError as error:
                return error.code

        first, second = await asyncio.gather(complete(ids[0]), complete(ids[1]))
        assert first == "ok"
        assert second in ("ok", "session_locked")
        statuses = [await pool.fetchval("SELECT status FROM scheduled_sessions WHERE id = $1", i) for i in ids]
        assert not (statuses[1] == "completed" and statuses[0] != "completed")
        counts = await pool.fetchval("SELECT count(*) FROM learning_events WHERE session_id = ANY($1::uuid[])", ids)
        assert counts == (2 if second == "ok" else 1)  # an event exactly for each change


async def test_a_retried_transition_returns_its_own_commit(pool: asyncpg.Pool) -> None:
    """The local activity's retry after a lost answer must not fail with invalid_status."""
    from activities.sessions import run_transition
    from coach_sessions.contracts import Actor, SessionAction, TransitionRequest
    from coach_sessions.repositories.sessions import SessionRepository

    family, ids = await _past_family(pool, 1)
    request = TransitionRequest(
        session_id=ids[0],
        action=SessionAction.COMPLETE,
        request_id="update-1",
        actor=Actor(id=family.coach.id, role=Role.COACH.value),
        now=datetime.now(UTC),
        notes="Good",
    )
    repo = SessionRepository(pool)
    first = await run_transition(repo, request)
    again = await run_transition(repo, request)
    assert again.session.version == first.session.version and again.session.status == "completed"
    assert again.message_ids == first.message_ids and len(first.message_ids) == 1
    assert [e["event_type"] for e in await _events(pool, ids[0])] == ["session_completed"]
    other = request.model_copy(update={"request_id": "update-2"})
    with pytest.raises(Exception, match="completed"):
        await run_transition(repo, other)  # a different request is refused as usual
