"""A session that lives long: dozens of reschedules and reminders keep its history bounded by
continue-as-new (the threshold lowered through the workflow input), and every behaviour carries on."""

from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from temporalio.client import WorkflowExecutionStatus

from coach_sessions.timers import reminder_key
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import Stack, auth
from tests.timer_support import REMINDER, TIMERS, sent_count, start_session_workflow

EVENTS = 60  # continue-as-new past this many history events (production: when Temporal suggests it)
RESCHEDULES = 24


async def _reschedule(stack: Stack, who: dict[str, str], session_id: UUID, at: datetime) -> datetime:
    local = at.astimezone(ZoneInfo("Asia/Kolkata"))
    body = {"sessionId": str(session_id), "newDate": local.date().isoformat(), "newTime": local.strftime("%H:%M")}
    response = await stack.http.patch("/api/sessions", headers=who, json=body)
    assert response.status_code == 200, response.text
    return datetime.fromisoformat(response.json()["session"]["scheduled_at"])


async def test_dozens_of_reschedules_and_reminders_continue_as_new_and_keep_working(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(24 * 30)])
    handle = await start_session_workflow(
        stack, session_id, TIMERS.model_copy(update={"continue_as_new_after_events": EVENTS})
    )
    first_run = handle.result_run_id
    coach = auth(family.coach.id)
    keys = []
    for n in range(RESCHEDULES):
        now = await stack.env.get_current_time()
        # A whole hour 30-31 h from now; every other time, wait for its 24 h reminder before moving it.
        target = (now + hours(31)).replace(minute=0, second=0, microsecond=0)
        new_at = await _reschedule(stack, coach, session_id, target)
        assert new_at == target
        if n % 2 == 0:
            await stack.env.sleep(new_at - hours(24) - now + timedelta(minutes=1))
            keys.append(reminder_key(session_id, hours(24), new_at))
            rows = await sent_count(pool, session_id, REMINDER, len(keys))
            assert [r["idempotency_key"] for r in rows] == keys  # each once, none for an old time

    # The last time stands: both its reminders, then the session happens and is completed.
    await stack.env.sleep(new_at - await stack.env.get_current_time() + timedelta(minutes=50))
    keys += [reminder_key(session_id, hours(24), new_at), reminder_key(session_id, hours(1), new_at)]
    rows = await sent_count(pool, session_id, REMINDER, len(keys))
    assert [r["idempotency_key"] for r in rows] == keys
    response = await stack.http.post("/api/sessions/complete", headers=coach, json={"sessionId": str(session_id)})
    assert response.status_code == 200, response.text
    assert (await handle.result()).final_status == "completed"  # (follows the runs)

    first = await stack.env.client.get_workflow_handle(handle.id, run_id=first_run).describe()
    assert first.status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    last = await stack.env.client.get_workflow_handle(handle.id).describe()
    assert last.run_id != first_run and last.status == WorkflowExecutionStatus.COMPLETED
    runs = await _runs(stack, handle.id, first_run)
    assert runs >= 4, runs
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM learning_events WHERE session_id = $1 AND event_type = 'session_rescheduled'",
            session_id,
        )
        == RESCHEDULES
    )


async def _runs(stack: Stack, workflow_id: str, run_id: str | None) -> int:
    """Follow the chain of runs from the first. Each history stays bounded: past the threshold a run
    continues as new at its next safe point, after the update or reminder in flight (seen: 31-87 events
    per run, 10 runs, with EVENTS = 60)."""
    count = 0
    while run_id:
        history = await stack.env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        assert len(history.events) < 2 * EVENTS, len(history.events)
        count += 1
        last = history.events[-1]
        attributes = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return count
