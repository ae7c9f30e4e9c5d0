"""The coach's nudge for a session left pending (time skipping, real worker and Postgres): 12 h after its
end, then daily within its bound, naming the child and the sessions locked behind it; resolving the
session stops the nudges at once."""

from datetime import timedelta

import asyncpg

from coach_sessions.templates import format_when
from coach_sessions.timers import nudge_key
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import Stack, auth
from tests.timer_support import NUDGE, REMINDER, TIMERS, sent_count, start_session_workflow, timer_messages
from workflows.session import SessionWorkflow

MINUTE = timedelta(minutes=1)


async def _pending_session_with_two_behind(stack: Stack, pool: asyncpg.Pool):  # type: ignore[no-untyped-def]
    family = await make_family(pool)
    # Session 1 started 2 h ago (45 min): its end has passed; sessions 2 and 3 wait behind it.
    ids = await make_sessions(
        pool, family, [now_utc() - hours(2), now_utc() + hours(24 * 7), now_utc() + hours(24 * 14)]
    )
    handle = await start_session_workflow(stack, ids[0], TIMERS)
    starts = await pool.fetchval("SELECT scheduled_at FROM scheduled_sessions WHERE id = $1", ids[0])
    return family, ids[0], handle, starts


async def test_the_nudge_fires_12h_after_the_end_repeats_daily_and_stops_on_resolve(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family, session_id, handle, starts = await _pending_session_with_two_behind(stack, pool)
    ends = starts + timedelta(minutes=45)
    await stack.env.sleep(ends + hours(12) - await stack.env.get_current_time() - MINUTE)
    assert await pool.fetchval("SELECT status FROM scheduled_sessions WHERE id = $1", session_id) == "pending"
    assert await timer_messages(pool, session_id, NUDGE) == []
    await stack.env.sleep(2 * MINUTE)
    [first] = await sent_count(pool, session_id, NUDGE, 1)
    assert first["destination"] == family.coach.phone
    assert first["template_params"] == [
        family.coach.name,
        family.child.name,
        "1",
        format_when(starts, "Asia/Kolkata"),
        "2 later sessions are locked until it is resolved",
    ]
    assert first["idempotency_key"] == nudge_key(session_id, 1, starts)
    await stack.env.sleep(hours(24))
    await sent_count(pool, session_id, NUDGE, 2)

    response = await stack.http.post(
        "/api/sessions/complete", headers=auth(family.coach.id), json={"sessionId": str(session_id)}
    )
    assert response.status_code == 200, response.text
    assert (await handle.result()).final_status == "completed"  # no nudge timer keeps it open
    await stack.env.sleep(hours(72))
    assert len(await timer_messages(pool, session_id, NUDGE)) == 2
    assert await timer_messages(pool, session_id, REMINDER) == []  # its reminders were long past


async def test_the_nudges_stop_after_their_bound(stack: Stack, pool: asyncpg.Pool) -> None:
    _, session_id, handle, _ = await _pending_session_with_two_behind(stack, pool)
    await stack.env.sleep(hours(24 * 6))
    rows = await sent_count(pool, session_id, NUDGE, TIMERS.nudge_max)
    assert [r["idempotency_key"].split(":")[2] for r in rows] == ["1", "2", "3"]
    await stack.env.sleep(hours(24 * 3))
    assert len(await timer_messages(pool, session_id, NUDGE)) == TIMERS.nudge_max
    record = await handle.query(SessionWorkflow.session)
    assert record is not None and record.status == "pending"  # still waiting for the coach


async def test_a_rescheduled_session_left_unresolved_after_its_new_time_is_nudged_too(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    """Rescheduled counts as resolved for the lock, so it never turns pending: without its own nudges
    a session moved to a time that then passed would be forgotten (patches.RESCHEDULED_NUDGES)."""
    family = await make_family(pool)
    ids = await make_sessions(
        pool, family, [now_utc() - hours(2), now_utc() + hours(24 * 7)], statuses=["rescheduled", "scheduled"]
    )
    handle = await start_session_workflow(stack, ids[0], TIMERS)
    starts = await pool.fetchval("SELECT scheduled_at FROM scheduled_sessions WHERE id = $1", ids[0])
    ends = starts + timedelta(minutes=45)
    await stack.env.sleep(ends + hours(12) - await stack.env.get_current_time() - MINUTE)
    assert await timer_messages(pool, ids[0], NUDGE) == []
    await stack.env.sleep(2 * MINUTE)
    [first] = await sent_count(pool, ids[0], NUDGE, 1)
    assert first["destination"] == family.coach.phone
    # the session after it is not locked by it (rescheduled is resolved for the lock)
    assert first["template_params"] == [
        family.coach.name,
        family.child.name,
        "1",
        format_when(starts, "Asia/Kolkata"),
        "-",
    ]
    assert await pool.fetchval("SELECT status FROM scheduled_sessions WHERE id = $1", ids[0]) == "rescheduled"
    await stack.env.sleep(hours(24))
    await sent_count(pool, ids[0], NUDGE, 2)

    response = await stack.http.post(
        "/api/sessions/missed", headers=auth(family.coach.id), json={"sessionId": str(ids[0]), "notifyParent": False}
    )
    assert response.status_code == 200, response.text
    assert (await handle.result()).final_status == "missed"
    await stack.env.sleep(hours(72))
    assert len(await timer_messages(pool, ids[0], NUDGE)) == 2
