"""GET /api/sessions/available-slots: working hours in the coach's timezone, minus the coach's other
sessions and their calendar's busy times (local events table, or Google's freeBusy through the real
client against the fake)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.services import Services
from coach_sessions.slots import free_slots
from tests import helpers
from tests.declared_errors import check_declared
from tests.factories import Family, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, Stack, auth

IST = ZoneInfo("Asia/Kolkata")


def _day() -> date:
    return (now_utc().astimezone(IST) + timedelta(days=3)).date()


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=IST)


async def _family_with_sessions(pool: asyncpg.Pool, day: date) -> tuple[Family, UUID]:
    """The session to move (17:00), another at 10:00 and a cancelled one at 15:00 on ``day``."""
    family = await make_family(pool)
    other = await make_family(pool, coach=family.coach)
    [moving] = await make_sessions(pool, family, [_at(day, 17)])
    await make_sessions(pool, other, [_at(day, 10), _at(day, 15)], statuses=["scheduled", "cancelled"])
    return family, moving


async def _slots(http: httpx.AsyncClient, session_id: object, day: date, headers: dict[str, str]) -> list[str]:
    r = await http.get(f"/api/sessions/available-slots?sessionId={session_id}&date={day}", headers=headers)
    assert r.status_code == 200, r.text
    return [s["time"] for s in r.json()["slots"]]


async def test_local_provider_subtracts_sessions_and_local_events(stack: Stack, pool: asyncpg.Pool) -> None:
    day = _day()
    family, moving = await _family_with_sessions(pool, day)
    calendar = family.coach.email  # the local provider's calendar for a coach without calendar_id
    for event_id, start, minutes in (("busynoon", _at(day, 12), 60), (str(moving).replace("-", ""), _at(day, 17), 45)):
        await pool.execute(
            "INSERT INTO local_calendar_events (calendar_id, event_id, summary, start_at, end_at, meet_link)"
            " VALUES ($1, $2, 'x', $3, $4, 'https://meet.google.com/x')",
            calendar,
            event_id,
            start,
            start + timedelta(minutes=minutes),
        )
    times = await _slots(stack.http, moving, day, auth(family.coach.id))
    assert times[:4] == ["09:00", "11:00", "13:00", "13:30"]  # 10:00-10:45 session, 12:00-13:00 event
    assert "15:00" in times  # the cancelled session frees its slot
    assert "17:00" in times  # the session's own time (and its own event) does not block it
    assert times[-1] == "19:00"  # 45 minutes must end by 20:00
    r = await stack.http.get(f"/api/sessions/available-slots?sessionId={moving}&date={day}", headers=ADMIN)
    body = r.json()
    assert body["timezone"] == "Asia/Kolkata" and body["duration_minutes"] == 45 and body["calendar_checked"] is True
    assert body["slots"][0]["start"] == _at(day, 9).isoformat()


@asynccontextmanager
async def _google_api(stack: Stack, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    settings = helpers.test_settings(stack.task_queue)
    services = Services.build(pool, stack.env.client, settings, calendar=stack.google)
    app = create_app(settings, services=services)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    hooks = {"response": [check_declared(app.openapi())]}
    async with httpx.AsyncClient(transport=transport, base_url="http://test", event_hooks=hooks) as http:
        yield http


async def test_google_provider_uses_free_busy(stack: Stack, pool: asyncpg.Pool) -> None:
    day = _day()
    family, moving = await _family_with_sessions(pool, day)
    stack.calendar.events[(family.coach.email, "lunchwithparents")] = {
        "id": "lunchwithparents",
        "status": "confirmed",
        "start": {"dateTime": _at(day, 14).isoformat()},
        "end": {"dateTime": _at(day, 15).isoformat()},
    }
    async with _google_api(stack, pool) as http:
        times = await _slots(http, moving, day, auth(family.coach.id))
        assert "13:00" in times and "15:00" in times
        assert not {"13:30", "14:00", "14:30"} & set(times)
        asked = [r for r in stack.calendar.request_log if r.path == "/calendar/v3/freeBusy"]
        assert len(asked) == 1 and asked[0].json()["items"] == [{"id": family.coach.email}]

        # A calendar Google cannot read: the slots still come, without its busy times, and say so.
        stack.calendar.unknown_calendars.add(family.coach.email)
        r = await http.get(f"/api/sessions/available-slots?sessionId={moving}&date={day}", headers=ADMIN)
        assert r.status_code == 200 and r.json()["calendar_checked"] is False
        assert "14:00" in [s["time"] for s in r.json()["slots"]]
        stack.calendar.unknown_calendars.clear()
        stack.calendar.outage(503)
        r = await http.get(f"/api/sessions/available-slots?sessionId={moving}&date={day}", headers=ADMIN)
        assert r.status_code == 200 and r.json()["calendar_checked"] is False
        stack.calendar.recover()


async def test_slots_refusals(stack: Stack, pool: asyncpg.Pool) -> None:
    day = _day()
    family, moving = await _family_with_sessions(pool, day)
    stranger = await make_family(pool)
    for session_id, headers in ((moving, auth(stranger.coach.id)), (uuid4(), auth(family.coach.id))):
        r = await stack.http.get(f"/api/sessions/available-slots?sessionId={session_id}&date={day}", headers=headers)
        assert r.status_code == 404 and r.json()["error"] == "session_not_found", r.text
    me = auth(family.coach.id)
    for query in (
        f"sessionId={moving}&date=9999-12-31",
        f"sessionId={moving}&date=0001-01-01",
        f"sessionId={moving}&date=2026-02-30",
        f"sessionId={moving}&date=tomorrow",
        f"sessionId={moving}",
        f"sessionId=nope&date={day}",
        f"sessionId={moving}&date={day}%00",
    ):
        r = await stack.http.get(f"/api/sessions/available-slots?{query}", headers=me)
        assert r.status_code == 422 and r.json()["error"] == "validation_error", (query, r.text)
    r = await stack.http.get(f"/api/sessions/available-slots?sessionId={moving}&date={day}")
    assert r.status_code == 401
    yesterday = (now_utc().astimezone(IST) - timedelta(days=1)).date()
    assert await _slots(stack.http, moving, yesterday, me) == []  # nothing in the past


@pytest.mark.parametrize(
    ("busy", "expected"),
    [
        ([], ["09:00", "09:30", "10:00"]),
        ([(9, 0, 9, 30)], ["09:30", "10:00"]),  # touching ends do not overlap
        ([(9, 10, 9, 20)], ["09:30", "10:00"]),
        ([(9, 50, 10, 10)], []),
    ],
)
def test_free_slots_steps_and_overlaps(busy: list[tuple[int, int, int, int]], expected: list[str]) -> None:
    day = date(2030, 6, 3)
    slots = free_slots(
        day=day,
        timezone="Asia/Kolkata",
        work_start=time(9),
        work_end=time(11),
        duration=timedelta(minutes=60),
        step=timedelta(minutes=30),
        busy=[(_at(day, a, b), _at(day, c, d)) for a, b, c, d in busy],
        now=_at(day, 0),
    )
    assert [s.strftime("%H:%M") for s in slots] == expected


def test_free_slots_keep_the_wall_clock_across_a_dst_change() -> None:
    london = ZoneInfo("Europe/London")
    day = date(2030, 3, 31)  # clocks go forward at 01:00
    slots = free_slots(
        day=day,
        timezone="Europe/London",
        work_start=time(0),
        work_end=time(4),
        duration=timedelta(minutes=60),
        step=timedelta(minutes=60),
        busy=[],
        now=datetime(2030, 1, 1, tzinfo=london),
    )
    assert [s.strftime("%H:%M %Z") for s in slots][-2:] == ["02:00 BST", "03:00 BST"]
