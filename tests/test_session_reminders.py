"""The parent's reminders before a session (time skipping, real worker, Postgres, AiSensy and Google fakes):
24 h and 1 h before with the Meet link, moved by a reschedule, stopped by a cancellation, skipped when
late, and sent once across a crash or a worker restart."""

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.timers import TimerActivities
from coach_sessions.contracts import DeliverMessageInput, SessionWorkflowInput, TimerMessageInput
from coach_sessions.repositories.timer_messages import TimerMessageRepository
from coach_sessions.templates import format_when
from coach_sessions.temporal import session_workflow_id
from coach_sessions.timers import reminder_key
from tests.conftest import build_stack
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.fakes.aisensy import FakeAiSensy
from tests.fakes.google_calendar import FakeGoogleCalendar
from tests.helpers import ADMIN, Stack, auth, eventually, running_worker
from tests.timer_support import REMINDER, TIMERS, sent_count, start_session_workflow, timer_messages
from workflows.session import SessionWorkflow

MINUTE = timedelta(minutes=1)


@pytest.fixture
async def timed(
    pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    fake_google_calendar: FakeGoogleCalendar,
    fake_aisensy: FakeAiSensy,
) -> AsyncIterator[Stack]:
    async with build_stack(pool, temporal_env, fake_google_calendar, fake_aisensy, timers=TIMERS) as stack:
        yield stack


async def _meet_link(pool: asyncpg.Pool, session_id: UUID) -> str:
    return str(
        await eventually(lambda: pool.fetchval("SELECT meet_link FROM scheduled_sessions WHERE id = $1", session_id))
    )


async def test_reminders_go_24h_and_1h_before_with_the_meet_link(timed: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(48)])
    starts = await pool.fetchval("SELECT scheduled_at FROM scheduled_sessions WHERE id = $1", session_id)
    await start_session_workflow(timed, session_id)  # the worker's settings: read by an activity
    link = await _meet_link(pool, session_id)  # the calendar sync made the Meet link
    assert link.startswith("https://meet.google.com/")

    await timed.env.sleep(hours(23))
    assert await timer_messages(pool, session_id, REMINDER) == []
    await timed.env.sleep(hours(1) + MINUTE)
    [first] = await sent_count(pool, session_id, REMINDER, 1)
    when_for_coach = format_when(starts, "Asia/Kolkata")
    assert first["template_params"] == [family.parent.name, family.child.name, "1", when_for_coach, link]
    assert first["destination"] == family.parent.phone
    assert first["idempotency_key"] == reminder_key(session_id, hours(24), starts)

    # The parent's own timezone, once recorded, is the one the next reminder speaks in.
    await pool.execute("UPDATE parents SET timezone = 'Europe/London' WHERE id = $1", family.parent.id)
    await timed.env.sleep(hours(22))
    assert len(await timer_messages(pool, session_id, REMINDER)) == 1
    await timed.env.sleep(hours(1))
    [_, second] = await sent_count(pool, session_id, REMINDER, 2)
    assert second["template_params"][3] == format_when(starts, "Europe/London") != when_for_coach
    assert second["template_params"][4] == link
    # What AiSensy received: the p22 campaign with the five parameters, to the parent.
    bodies = [m for m in timed.aisensy.messages if m["campaignName"] == REMINDER]
    assert [b["templateParams"] for b in bodies] == [first["template_params"], second["template_params"]]

    await timed.env.sleep(hours(3))  # the session's start and end pass: no more reminders
    assert len(await timer_messages(pool, session_id, REMINDER)) == 2


async def test_a_reschedule_moves_the_reminders_and_none_is_sent_twice(timed: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(48)])
    old_at = await pool.fetchval("SELECT scheduled_at FROM scheduled_sessions WHERE id = $1", session_id)
    await start_session_workflow(timed, session_id)
    await timed.env.sleep(hours(24) + MINUTE)
    await sent_count(pool, session_id, REMINDER, 1)  # 24 h before the old time

    # Moved by an admin to three days later (the API reads the date and time in the coach's timezone).
    new_day = (old_at + timedelta(days=3)).astimezone(ZoneInfo(family.coach.timezone)).date()
    response = await timed.http.patch(
        "/api/sessions",
        headers=ADMIN,
        json={"sessionId": str(session_id), "newDate": new_day.isoformat(), "newTime": "17:30"},
    )
    assert response.status_code == 200, response.text
    new_at = await pool.fetchval("SELECT scheduled_at FROM scheduled_sessions WHERE id = $1", session_id)
    server_now = await timed.env.get_current_time()

    await timed.env.sleep(old_at - server_now + hours(1))  # past the old time: no 1 h reminder for it
    assert len(await timer_messages(pool, session_id, REMINDER)) == 1
    await timed.env.sleep(new_at - await timed.env.get_current_time() + MINUTE)  # past the new start
    rows = await sent_count(pool, session_id, REMINDER, 3)
    assert [r["idempotency_key"] for r in rows] == [
        reminder_key(session_id, hours(24), old_at),
        reminder_key(session_id, hours(24), new_at),
        reminder_key(session_id, hours(1), new_at),
    ]
    assert rows[2]["template_params"][3] == format_when(new_at, "Asia/Kolkata")


async def test_a_cancelled_session_sends_no_more_reminders(timed: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(30)])
    handle = await start_session_workflow(timed, session_id)
    await timed.env.sleep(hours(6) + MINUTE)
    await sent_count(pool, session_id, REMINDER, 1)
    response = await timed.http.delete(
        "/api/sessions", headers=ADMIN, params={"sessionId": str(session_id), "reason": "programme paused"}
    )
    assert response.status_code == 200, response.text
    assert (await handle.result()).final_status == "cancelled"  # no timer left to wait for
    await timed.env.sleep(hours(30))
    assert len(await timer_messages(pool, session_id, REMINDER)) == 1


async def test_a_reminder_later_than_its_offset_is_skipped_not_sent_late(timed: Stack, pool: asyncpg.Pool) -> None:
    """A worker that was down for hours: its sessions' reminders come due all at once when it is back.

    (The time-skipping server does not move its clock while a workflow task waits for a worker, so the
    outage is played by workflows that first run that late: the same path, a timer already due.)"""
    family = await make_family(pool)
    # A starts in 30 min: its 1 h reminder is 30 min late (sent), its 24 h one superseded by it.
    # B started 30 min ago: its 1 h reminder is 1.5 h late, its 24 h one 24.5 h late: both skipped.
    [a_id, b_id] = await make_sessions(
        pool, family, [now_utc() + timedelta(minutes=30), now_utc() - timedelta(minutes=30)]
    )
    await start_session_workflow(timed, a_id)
    await start_session_workflow(timed, b_id)
    [sent] = await sent_count(pool, a_id, REMINDER, 1)
    assert sent["idempotency_key"].startswith(f"reminder:{a_id}:3600s:")
    await timed.env.sleep(hours(2))
    assert len(await timer_messages(pool, a_id, REMINDER)) == 1
    assert await timer_messages(pool, b_id, REMINDER) == []


async def test_a_crash_after_queueing_and_a_worker_restart_still_send_once(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    family = await make_family(pool)
    # Starting in 23 h: the 24 h reminder is due as soon as the workflow runs (1 h late, still useful).
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(23)])
    real = TimerActivities(TimerMessageRepository(pool), TIMERS)
    queued_calls: list[str] = []
    delivery_attempts: list[UUID] = []

    @activity.defn(name="enqueue_timer_message")
    async def enqueue_timer_message(request: TimerMessageInput) -> UUID | None:
        """The first attempt commits the message, then its worker 'dies' before the workflow hears of it."""
        queued_calls.append(request.key)
        message_id = await real.enqueue_timer_message(request)
        if len(queued_calls) == 1:
            raise RuntimeError("worker lost after the commit")
        return message_id

    @activity.defn(name="deliver_message")
    async def deliver_message(request: DeliverMessageInput) -> str:
        """This worker goes away before it sends anything."""
        delivery_attempts.append(request.message_id)
        raise RuntimeError("worker going down")

    async def tried_to_deliver() -> bool:
        return bool(delivery_attempts)

    async with running_worker(
        temporal_env.client, pool, timers=TIMERS, replace_activities=[enqueue_timer_message, deliver_message]
    ) as task_queue:
        await temporal_env.client.start_workflow(
            SessionWorkflow.run,
            SessionWorkflowInput(session_id=session_id),
            id=session_workflow_id(session_id),
            task_queue=task_queue,
        )
        await eventually(tried_to_deliver)
    assert len(queued_calls) == 2 and len(set(queued_calls)) == 1  # the retried send: same key
    [queued] = await timer_messages(pool, session_id, REMINDER)
    assert queued["status"] == "queued"  # queued once, not sent by the worker that went away

    # A new worker on the same task queue takes the delivery's retry: the message goes out once.
    async with running_worker(temporal_env.client, pool, task_queue=task_queue, timers=TIMERS):
        [sent] = await sent_count(pool, session_id, REMINDER, 1)
        assert sent["idempotency_key"] == queued["idempotency_key"]
        # One claim, one provider call (a second attempt would have counted, or found it in doubt).
        assert await pool.fetchval("SELECT attempts FROM outbound_messages WHERE session_id = $1", session_id) == 1
    assert set(delivery_attempts) == {(await _ids(pool, session_id))[0]}


async def _ids(pool: asyncpg.Pool, session_id: UUID) -> list[UUID]:
    return [
        r["id"]
        for r in await pool.fetch(
            "SELECT id FROM outbound_messages WHERE session_id = $1 ORDER BY created_at", session_id
        )
    ]


def test_the_late_and_superseded_rules() -> None:
    """The rule the workflow applies to a due reminder or nudge, on its own (pure)."""
    from coach_sessions.contracts import SessionTimerSettings
    from coach_sessions.timers import session_timers, worth_sending
    from tests.test_session_workflow import _session

    session = _session(timedelta(hours=30))
    settings = SessionTimerSettings(reminders=[hours(24), hours(1)], nudge_max=2)
    timers = session_timers(session, settings)
    assert [t.summary for t in timers] == [
        "reminder 24h before session 1",
        "reminder 1h before session 1",
        "session 1 end → pending",
    ]
    day, hour = timers[0], timers[1]
    start = session.scheduled_at
    assert worth_sending(day, timers, start - hours(24))  # on time
    assert worth_sending(day, timers, start - hours(2))  # 22 h late, nothing newer due: still useful
    assert not worth_sending(day, timers, start - hours(0.5))  # the 1 h reminder is due: superseded
    assert worth_sending(hour, timers, start - hours(0.5))
    assert not worth_sending(hour, timers, start + hours(0.5))  # 1.5 h late: more than its offset
    pending = session.model_copy(update={"status": "pending"})
    nudges = session_timers(pending, settings)
    assert [t.summary for t in nudges] == ["nudge 1/2: session 1 still pending", "nudge 2/2: session 1 still pending"]
    assert nudges[0].at == session.ends_at + hours(12) and nudges[1].at == nudges[0].at + hours(24)
    assert not worth_sending(nudges[0], nudges, nudges[1].at)  # the next one is due: one message


async def test_reminders_wait_while_the_parent_is_asked_to_agree_to_a_cancellation(
    timed: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(30)])
    await start_session_workflow(timed, session_id)
    coach = auth(family.coach.id)
    body = {"sessionId": str(session_id), "reason": "Coach may be travelling"}
    response = await timed.http.post("/api/sessions/request-cancel", headers=coach, json=body)
    assert response.status_code == 202, response.text
    await timed.env.sleep(hours(7))  # the 24 h reminder's time (+6 h) passes while the request is pending
    assert await timer_messages(pool, session_id, REMINDER) == []
    response = await timed.http.post(
        "/api/sessions/withdraw-cancel", headers=coach, json={"sessionId": str(session_id)}
    )
    assert response.status_code == 200, response.text
    # The session stands: its 24 h reminder (1 h late, nothing newer due) goes out now.
    [sent] = await sent_count(pool, session_id, REMINDER, 1)
    assert sent["idempotency_key"].startswith(f"reminder:{session_id}:86400s:")
