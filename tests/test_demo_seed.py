"""`seed-demo` (devtools.demo.seed_demo) on the test stack: a coherent history per demo child, the
database and the Temporal workflows in agreement, and a second run that changes nothing."""

import asyncio
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import uuid4

import asyncpg
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from coach_sessions.templates import CANCELLATION_REQUEST, SESSION_SUMMARY
from coach_sessions.temporal import enrollment_workflow_id, session_workflow_id
from devtools.demo import seed_demo
from devtools.demo_data import FAMILIES
from devtools.demo_learning import LESSONS
from tests import helpers
from tests.demo_support import demo_stack, own_pool
from tests.factories import now_utc
from tests.helpers import Stack, eventually

__all__ = ["demo_stack", "own_pool"]  # fixtures

RESOLVED = {"completed", "missed"}


async def _status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError:
        return None


async def _snapshot(pool: asyncpg.Pool) -> dict[str, Any]:
    """What the seed writes (calendar syncs by the workflows aside: they change no version)."""
    tables = ("coaches", "parents", "children", "enrollments", "learning_events", "assessments")
    counts = {t: await pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables}
    homework = await pool.fetch("SELECT id, completed_at FROM homework_assignments ORDER BY id")
    messages = await pool.fetch("SELECT id, status FROM outbound_messages ORDER BY id")
    sessions = await pool.fetch(
        "SELECT id, status, version, completed_at, coach_notes, cancellation_status, cancellation_request_count"
        " FROM scheduled_sessions ORDER BY id"
    )
    return {"counts": counts, "homework": homework, "messages": messages, "sessions": sessions}


async def test_seed_demo_gives_each_child_a_coherent_history_that_temporal_agrees_with(
    demo_stack: Stack, own_pool: asyncpg.Pool
) -> None:
    pool, client = own_pool, demo_stack.env.client
    now = now_utc()
    # The settings `make run` has (a 24 h minimum notice, a 48 h consent window), on the stack's queue.
    settings = helpers.test_settings(demo_stack.task_queue, coach_min_notice=timedelta(hours=24))
    result = await seed_demo(pool, client, demo_stack.task_queue, settings=settings, now=now)
    assert result["created"] is True and result["cancellation_requests"] == len(FAMILIES)

    for enrollment_id in result["enrollment_ids"]:  # type: ignore[attr-defined]
        await eventually(partial(_completed, client, enrollment_workflow_id(enrollment_id)), within=60, interval=0.2)

    for family in FAMILIES:
        child = await pool.fetchrow("SELECT id FROM children WHERE name = $1", family.child)
        sessions = await pool.fetch(
            "SELECT * FROM scheduled_sessions WHERE child_id = $1 ORDER BY session_number", child["id"]
        )
        assert len(sessions) == family.sessions
        statuses = [s["status"] for s in sessions]
        past = family.past
        resolved, pending, future = sessions[: past - 1], sessions[past - 1], sessions[past:]

        # Past sessions resolved as the coach did: completed ones with notes and completed_at just after the end.
        assert {s["status"] for s in resolved} <= RESOLVED, statuses
        completed = [s for s in resolved if s["status"] == "completed"]
        assert completed and all(s["coach_notes"] for s in completed)
        for s, lesson in zip(resolved, LESSONS[family.child], strict=True):
            end = s["scheduled_at"] + timedelta(minutes=s["duration_minutes"])
            assert s["status"] == ("missed" if lesson.missed else "completed") and s["coach_notes"] == lesson.notes
            assert s["completed_at"] is None or end <= s["completed_at"] <= end + timedelta(hours=1)
            assert s["calendar_sync_status"] == "synced" and s["meet_link"]
        # One past session awaits the coach; then the future: scheduled, one with a request awaiting the parent.
        assert pending["status"] == "pending" and pending["scheduled_at"] < now
        assert all(s["scheduled_at"] > now - timedelta(minutes=45) for s in future)
        assert {s["status"] for s in future} == {"scheduled"}, statuses
        asked = [s for s in sessions if s["cancellation_status"] != "none"]
        assert len(asked) == 1 and asked[0]["cancellation_status"] == "pending"
        asked_session = asked[0]
        assert asked_session["session_number"] == past + 2 and asked_session["scheduled_at"] > now + timedelta(hours=24)
        assert asked_session["cancellation_expires_at"] > now + timedelta(hours=47)

        # Learning events: each tied to a resolved session and dated within it (or just after, the
        # write-up), but for the cancellation request, dated now; nothing after the pending session began.
        by_id = {s["id"]: s for s in sessions}
        events = await pool.fetch("SELECT * FROM learning_events WHERE child_id = $1", child["id"])
        assert len(events) >= 12
        for event in events:
            session = by_id[event["session_id"]]
            if event["event_type"] == "cancellation_requested":
                assert session["id"] == asked_session["id"] and event["event_date"] >= now
                continue
            assert session["status"] in RESOLVED, (event["event_type"], session["status"])
            # A homework item is marked done at a later session; its event keeps the session it was given at.
            at = [s for s in resolved if s["scheduled_at"] <= event["event_date"] <= _end(s) + timedelta(hours=1)]
            assert at, (event["event_type"], event["event_date"])
            assert at[0]["id"] == session["id"] or (
                event["event_type"] == "homework_completed" and at[0]["session_number"] > session["session_number"]
            )
            assert event["event_date"] < pending["scheduled_at"]
        types = {e["event_type"] for e in events}
        assert {"session_completed", "session_missed", "assessment", "homework_assigned", "homework_completed"} <= types
        # Scores and homework: at completed sessions only.
        for table in ("assessments", "homework_assignments"):
            rows = await pool.fetch(f"SELECT session_id FROM {table} WHERE child_id = $1", child["id"])
            assert rows and all(by_id[r["session_id"]]["status"] == "completed" for r in rows), table
        # Each parent had the summaries of the completed sessions, then the cancellation request.
        messages = await pool.fetch("SELECT * FROM outbound_messages WHERE child_id = $1", child["id"])
        assert {m["status"] for m in messages} == {"sent"}
        summaries = [m["template_name"] for m in messages if m["session_id"] != asked_session["id"]]
        assert summaries == [SESSION_SUMMARY] * len(completed)
        assert [m["template_name"] for m in messages if m["session_id"] == asked_session["id"]] == [
            CANCELLATION_REQUEST
        ]

        # Temporal agrees: resolved sessions' workflows have ended, the others wait; the parent's
        # answer has a consent workflow to go to.
        for s in sessions:
            want = WorkflowExecutionStatus.COMPLETED if s["status"] in RESOLVED else WorkflowExecutionStatus.RUNNING
            await eventually(partial(_is, client, session_workflow_id(s["id"]), want), within=60, interval=0.2)
        assert await _status(client, asked_session["consent_workflow_id"]) == WorkflowExecutionStatus.RUNNING

    first = await _snapshot(pool)
    again = await seed_demo(pool, client, demo_stack.task_queue, settings=settings, now=now + timedelta(minutes=5))
    assert again["created"] is False and again["cancellation_requests"] == 0
    assert again["enrollment_ids"] == result["enrollment_ids"]
    await asyncio.sleep(0.5)
    assert await _snapshot(pool) == first  # a second run changes nothing


def _end(session: asyncpg.Record) -> datetime:
    return session["scheduled_at"] + timedelta(minutes=session["duration_minutes"])  # type: ignore[no-any-return]


async def _completed(client: Client, workflow_id: str) -> bool:
    return await _status(client, workflow_id) == WorkflowExecutionStatus.COMPLETED


async def _is(client: Client, workflow_id: str, want: WorkflowExecutionStatus) -> bool:
    return await _status(client, workflow_id) == want


async def test_without_a_running_worker_the_seed_runs_one_for_the_cancellation_requests(
    own_pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    """As `make run` seeds: before its worker starts. The requests still go through their workflows,
    and the worker that starts afterwards carries on from there."""
    pool, client = own_pool, temporal_env.client
    task_queue = f"demo-{uuid4()}"
    settings = helpers.test_settings(task_queue, coach_min_notice=timedelta(hours=24))
    result = await seed_demo(pool, client, task_queue, settings=settings)
    assert result["cancellation_requests"] == len(FAMILIES)
    asked = await pool.fetch(
        "SELECT s.consent_workflow_id, m.status FROM scheduled_sessions s"
        " JOIN outbound_messages m ON m.id = s.cancellation_message_id WHERE s.cancellation_status = 'pending'"
    )
    assert len(asked) == len(FAMILIES) and {r["status"] for r in asked} == {"sent"}
    for row in asked:
        assert await _status(client, row["consent_workflow_id"]) == WorkflowExecutionStatus.RUNNING
    async with helpers.running_worker(client, pool, task_queue=task_queue):
        for enrollment_id in result["enrollment_ids"]:  # type: ignore[attr-defined]
            await eventually(
                partial(_completed, client, enrollment_workflow_id(enrollment_id)), within=60, interval=0.2
            )
        pending = await pool.fetchval("SELECT id FROM scheduled_sessions WHERE status = 'pending' LIMIT 1")
        await eventually(lambda: _is(client, session_workflow_id(pending), WorkflowExecutionStatus.RUNNING), within=30)
