"""COACH_MIN_NOTICE: a coach cannot reschedule or ask to cancel a session starting sooner; an admin can.
Refusals write nothing; the session answer tells pages which buttons to grey out."""

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.conftest import build_stack
from tests.declared_errors import codes_of
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.fakes.aisensy import FakeAiSensy
from tests.fakes.google_calendar import FakeGoogleCalendar
from tests.helpers import ADMIN, Stack, auth

NOTICE = hours(24)


@pytest.fixture
async def noticed(
    pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    fake_google_calendar: FakeGoogleCalendar,
    fake_aisensy: FakeAiSensy,
) -> AsyncIterator[Stack]:
    async with build_stack(pool, temporal_env, fake_google_calendar, fake_aisensy, coach_min_notice=NOTICE) as stack:
        yield stack


async def _written(pool: asyncpg.Pool, session_id: UUID) -> tuple[int, int, int]:
    return (
        await pool.fetchval("SELECT version FROM scheduled_sessions WHERE id = $1", session_id),
        await pool.fetchval("SELECT count(*) FROM learning_events WHERE session_id = $1", session_id),
        await pool.fetchval("SELECT count(*) FROM outbound_messages WHERE session_id = $1", session_id),
    )


async def test_a_coach_is_refused_inside_the_notice_and_an_admin_is_not(noticed: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [soon, later] = await make_sessions(pool, family, [now_utc() + hours(10), now_utc() + hours(48)])
    coach = auth(family.coach.id)

    answer = (await noticed.http.get("/api/sessions", headers=coach, params={"childId": str(family.child.id)})).json()
    buttons = {s["id"]: (s["can_reschedule"], s["can_request_cancel"]) for s in answer["sessions"]}
    assert buttons == {str(soon): (False, False), str(later): (True, True)}

    before = await _written(pool, soon)
    new_day = (now_utc() + timedelta(days=5)).date().isoformat()
    move = {"sessionId": str(soon), "newDate": new_day, "newTime": "10:00"}
    for method, path, body in [
        ("PATCH", "/api/sessions", move),
        ("POST", "/api/sessions/request-cancel", {"sessionId": str(soon), "reason": "Coach is travelling"}),
    ]:
        response = await noticed.http.request(method, path, headers=coach, json=body)
        assert response.status_code == 409, response.text
        refusal = response.json()
        assert refusal["error"] == "inside_minimum_notice"
        assert "minimum notice" in refusal["detail"]
        # Read on a page: a span and what to do, not ISO instants and "1 day, 0:00:00".
        assert re.search(r"starts in \d+ (hours|minutes|days)", refusal["detail"]), refusal["detail"]
        assert "ask an admin" in refusal["detail"] and "+00:00" not in refusal["detail"]
        ends = datetime.fromisoformat(refusal["notice_ends_at"])
        assert abs(ends - (await noticed.env.get_current_time() + NOTICE)) < timedelta(minutes=1)
        assert await _written(pool, soon) == before  # nothing written

    # An admin is not bound by the notice; a session outside it is the coach's to move.
    response = await noticed.http.patch("/api/sessions", headers=ADMIN, json=move)
    assert response.status_code == 200, response.text
    assert response.json()["session"]["status"] == "rescheduled"
    response = await noticed.http.post(
        "/api/sessions/request-cancel", headers=coach, json={"sessionId": str(later), "reason": "Coach is travelling"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["session"]["can_request_cancel"] is False  # a request is now pending


async def test_a_started_session_is_not_inside_the_notice(noticed: Stack, pool: asyncpg.Pool) -> None:
    """A pending session (its time has passed) is being resolved, not moved at short notice."""
    family = await make_family(pool)
    [past] = await make_sessions(pool, family, [now_utc() - hours(2)], statuses=["pending"])
    response = await noticed.http.patch(
        "/api/sessions",
        headers=auth(family.coach.id),
        json={
            "sessionId": str(past),
            "newDate": (now_utc() + timedelta(days=3)).date().isoformat(),
            "newTime": "11:00",
        },
    )
    assert response.status_code == 200, response.text


async def test_the_refusal_is_declared_in_openapi(noticed: Stack) -> None:
    document = (await noticed.http.get("/openapi.json")).json()
    for path, method in [("/api/sessions", "patch"), ("/api/sessions/request-cancel", "post")]:
        response = document["paths"][path][method]["responses"]["409"]
        assert "inside_minimum_notice" in codes_of(document, response)
    body = document["components"]["schemas"]["InsideMinimumNoticeError"]
    assert body["properties"]["notice_ends_at"]["format"] == "date-time"
