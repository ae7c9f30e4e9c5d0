"""Shared pieces of the timer tests (reminders, nudges, continue-as-new): settings, starting a session's
workflow, reading what its timers queued."""

from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
from temporalio.client import WorkflowHandle

from coach_sessions.contracts import SessionTimerSettings, SessionWorkflowInput, SessionWorkflowResult
from coach_sessions.temporal import session_workflow_id
from tests.factories import hours
from tests.helpers import Stack, eventually
from workflows.session import SessionWorkflow

# The production defaults (SESSION_REMINDERS=24h,1h; PENDING_NUDGE_AFTER=12h, daily, 3 at most).
TIMERS = SessionTimerSettings(
    reminders=[hours(24), hours(1)], nudge_after=hours(12), nudge_repeat=hours(24), nudge_max=3
)
REMINDER = "p22_session_reminder"
NUDGE = "c04_pending_session_nudge"


async def start_session_workflow(
    stack: Stack, session_id: UUID, timers: SessionTimerSettings | None = None
) -> WorkflowHandle[SessionWorkflow, SessionWorkflowResult]:
    """As the enrollment does; ``timers`` None: the worker's settings (read by an activity)."""
    return await stack.env.client.start_workflow(
        SessionWorkflow.run,
        SessionWorkflowInput(session_id=session_id, timers=timers),
        id=session_workflow_id(session_id),
        task_queue=stack.task_queue,
    )


async def timer_messages(pool: asyncpg.Pool, session_id: UUID, template: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT idempotency_key, status, template_params, destination FROM outbound_messages"
        " WHERE session_id = $1 AND template_name = $2 ORDER BY created_at",
        session_id,
        template,
    )
    return [dict(r) for r in rows]


async def sent_count(pool: asyncpg.Pool, session_id: UUID, template: str, count: int) -> list[dict[str, Any]]:
    """Wait until exactly ``count`` such messages exist and are all sent; return them."""

    async def check() -> list[dict[str, Any]] | None:
        rows = await timer_messages(pool, session_id, template)
        return rows if len(rows) == count and all(r["status"] == "sent" for r in rows) else None

    if count == 0:
        assert await timer_messages(pool, session_id, template) == []
        return []
    result: list[dict[str, Any]] = await eventually(check)
    return result


async def settle(stack: Stack, for_: timedelta = timedelta(seconds=1)) -> None:
    """A short skip so that whatever the workflow was doing finishes (time skipping)."""
    await stack.env.sleep(for_)
