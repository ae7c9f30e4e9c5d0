"""Side effects under failure: a calendar outage that heals, crashes after a provider call."""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from temporalio.testing import WorkflowEnvironment

from coach_sessions.providers.calendar import CalendarEvent, CalendarEventSpec, GoogleCalendarProvider
from coach_sessions.providers.whatsapp import AiSensyProvider, SendResult, WhatsAppMessage
from coach_sessions.templates import SESSION_RESCHEDULED, SESSION_SUMMARY
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import Stack, api_client, auth, eventually, running_worker


def _future_day(days: int) -> str:
    return (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=days)).date().isoformat()


async def _row(pool: asyncpg.Pool, session_id: UUID) -> dict[str, Any]:
    return dict(await pool.fetchrow("SELECT * FROM scheduled_sessions WHERE id = $1", session_id))


async def test_calendar_outage_still_reschedules_and_sync_heals(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(30)], statuses=["pending"])
    stack.calendar.outage(503)
    response = await stack.http.patch(
        "/api/sessions",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "newDate": _future_day(2), "newTime": "16:00"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["session"]["status"] == "rescheduled"
    assert response.json()["session"]["calendar_sync_status"] == "pending"

    async def retrying() -> bool:
        row = await _row(pool, session_id)
        return row["calendar_sync_status"] == "pending" and (row["calendar_sync_error"] or "").startswith("retrying")

    await eventually(retrying)
    stack.calendar.recover()
    await stack.env.sleep(timedelta(minutes=15))  # past the retry backoff

    async def synced() -> bool:
        return (await _row(pool, session_id))["calendar_sync_status"] == "synced"

    await eventually(synced)
    row = await _row(pool, session_id)
    assert row["calendar_sync_error"] is None and row["meet_link"]
    assert len(stack.calendar.live_events()) == 1


async def test_calendar_rejection_marks_failed_without_retrying_forever(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(30)], statuses=["pending"])
    stack.calendar.outage(403, "forbidden")
    response = await stack.http.patch(
        "/api/sessions",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "newDate": _future_day(2), "newTime": "16:00"},
    )
    assert response.status_code == 200

    async def failed() -> bool:
        return (await _row(pool, session_id))["calendar_sync_status"] == "failed"

    await eventually(failed)
    await stack.env.sleep(timedelta(hours=1))
    calls = sum(stack.calendar.requests.values())
    # One call per sync pass, none retried: the workflow's start may sync once before the reschedule
    # lands and once after it (the coalescer), so one or two, never the retry policy's many.
    assert calls in (1, 2)
    await stack.env.sleep(timedelta(hours=2))
    assert sum(stack.calendar.requests.values()) == calls  # no more tries
    assert (await _row(pool, session_id))["status"] == "rescheduled"


class CrashAfterSend:
    """Sends for real, then dies before the caller can record it (once)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.crashed = inner, inner.name, False

    async def send(self, message: WhatsAppMessage) -> SendResult:
        result = await self.inner.send(message)
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("worker killed right after the provider call")
        return result  # type: ignore[no-any-return]

    async def upsert_event(self, spec: CalendarEventSpec) -> CalendarEvent:
        result = await self.inner.upsert_event(spec)
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("worker killed right after the provider call")
        return result  # type: ignore[no-any-return]

    async def cancel_event(self, calendar_id: str | None, event_id: str, subject: str | None) -> None:
        await self.inner.cancel_event(calendar_id, event_id, subject)


async def test_crash_after_side_effects_sends_one_message_and_creates_one_event(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment, stack: Stack
) -> None:
    family = await make_family(pool)
    ids = await make_sessions(
        pool, family, [now_utc() - hours(50), now_utc() - hours(26)], statuses=["pending", "pending"]
    )
    whatsapp = CrashAfterSend(stack.whatsapp)
    calendar = CrashAfterSend(stack.google)
    assert isinstance(stack.whatsapp, AiSensyProvider) and isinstance(stack.google, GoogleCalendarProvider)
    async with running_worker(temporal_env.client, pool, calendar=calendar, whatsapp=whatsapp) as task_queue:  # type: ignore[arg-type]
        async with api_client(pool, temporal_env.client, task_queue) as http:
            coach = auth(family.coach.id)
            done = await http.post("/api/sessions/complete", headers=coach, json={"sessionId": str(ids[0])})
            assert done.status_code == 200, done.text
            moved = await http.patch(
                "/api/sessions",
                headers=coach,
                json={"sessionId": str(ids[1]), "newDate": _future_day(3), "newTime": "09:00"},
            )
            assert moved.status_code == 200, moved.text

            async def settled() -> bool:
                messages = await pool.fetch("SELECT status FROM outbound_messages WHERE session_id = ANY($1)", ids)
                row = await _row(pool, ids[1])
                return bool(
                    len(messages) == 2  # the summary (session 1) and the reschedule notice (session 2)
                    and all(m["status"] in ("sent", "in_doubt") for m in messages)
                    and row["calendar_sync_status"] == "synced"
                )

            await temporal_env.sleep(timedelta(minutes=1))
            await eventually(settled)
    assert whatsapp.crashed and calendar.crashed
    campaigns = sorted(m["campaignName"] for m in stack.aisensy.messages)
    assert campaigns == sorted([SESSION_SUMMARY, SESSION_RESCHEDULED])  # each once: the retry did not resend
    statuses = sorted(
        r["status"] for r in await pool.fetch("SELECT status FROM outbound_messages WHERE session_id = ANY($1)", ids)
    )
    assert statuses == ["in_doubt", "sent"]  # the crashed one recorded for ops: sent once, confirmation lost
    # one event per session (each workflow creates its own on start); the retried insert found its id
    assert sorted(event_id for _, event_id in stack.calendar.events) == sorted(i.hex for i in ids)


async def test_a_send_that_times_out_is_not_sent_twice(stack: Stack, pool: asyncpg.Pool) -> None:
    """AiSensy took the message but never answered: the retry marks it in_doubt, no second copy."""
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(30)], statuses=["pending"])
    stack.aisensy.slow(3.0)  # longer than the provider client's 2 s timeout
    response = await stack.http.post(
        "/api/sessions/complete", headers=auth(family.coach.id), json={"sessionId": str(session_id)}
    )
    assert response.status_code == 200, response.text

    async def in_doubt() -> bool:
        status = await pool.fetchval("SELECT status FROM outbound_messages WHERE session_id = $1", session_id)
        return status == "in_doubt"

    await stack.env.sleep(timedelta(minutes=1))  # past the retry backoff
    await eventually(in_doubt)
    stack.aisensy.recover()
    await stack.env.sleep(timedelta(hours=1))
    assert len(stack.aisensy.messages) == 1
    assert await pool.fetchval("SELECT attempts FROM outbound_messages WHERE session_id = $1", session_id) == 1
