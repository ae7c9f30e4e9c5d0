"""The demo's Temporal side: one cancellation request awaiting each parent, and the enrollment workflows.

A cancellation awaiting the parent lives in Temporal as much as in Postgres: the SessionWorkflow
holds the CancellationConsentWorkflow child that takes the parent's tap, the coach's withdrawal or
the auto-approve timer. So it is made the way a coach makes it, with the ``request_cancellation``
update (update-with-start, as the API sends it), which needs a worker to run it. `make run` seeds
before its worker starts: when no worker has marked itself alive on the task queue, one runs here
(the real worker, ``worker.create_worker``, with the configured providers) until the requests are
made and their consent workflows wait quietly; the real worker carries on from there.

Then every demo enrollment's EnrollmentWorkflow is started (as before): it finds its sessions made
and starts one SessionWorkflow per session (one already running, the cancelled one's, is kept). A
session resolved in the seeded history loads as terminal, so its workflow ends at once.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from coach_sessions.contracts import (
    Actor,
    EnrollmentWorkflowInput,
    RequestCancellationInput,
    SessionWorkflowInput,
)
from coach_sessions.models import SessionRecord
from coach_sessions.providers.brief import build_brief_provider
from coach_sessions.providers.calendar import build_calendar_provider
from coach_sessions.providers.embeddings import build_embedding_provider
from coach_sessions.providers.whatsapp import build_whatsapp_provider
from coach_sessions.repositories.workers import WorkerHeartbeatRepository
from coach_sessions.settings import Settings
from coach_sessions.statuses import SessionStatus
from coach_sessions.temporal import enrollment_workflow_id, session_workflow_id
from workflows.enrollment import EnrollmentWorkflow
from workflows.session import SessionWorkflow

REQUEST_ID = "demo-seed-cancel"  # the transition's request id: a repeated seed finds its request made
SETTLE_WITHIN = timedelta(seconds=60)
NOTICE_MARGIN = timedelta(hours=1)  # beyond the coach's minimum notice


async def cancellation_target(
    pool: asyncpg.Pool, enrollment_id: UUID, first_number: int, now: datetime, notice: timedelta
) -> UUID | None:
    """The session to ask about: the first scheduled one from ``first_number`` on that starts beyond
    the coach's minimum notice; None when the enrollment has had a cancellation request already."""
    if await pool.fetchval(
        "SELECT 1 FROM scheduled_sessions WHERE enrollment_id = $1 AND cancellation_request_count > 0", enrollment_id
    ):
        return None
    value = await pool.fetchval(
        "SELECT id FROM scheduled_sessions WHERE enrollment_id = $1 AND session_number >= $2 AND status = $3"
        " AND scheduled_at > $4 ORDER BY session_number LIMIT 1",
        enrollment_id,
        first_number,
        SessionStatus.SCHEDULED.value,
        now + notice + NOTICE_MARGIN,
    )
    return value if isinstance(value, UUID) else None


async def request_cancellations(
    pool: asyncpg.Pool,
    temporal: Client,
    task_queue: str,
    settings: Settings,
    requests: list[tuple[UUID, UUID, str]],
) -> None:
    """For each (session id, coach id, reason): the coach's cancellation request, made through the
    session's workflow; returns once each waits for its parent with nothing in flight."""
    if not requests:
        return
    async with _worker_unless_running(pool, temporal, task_queue, settings):
        made = [await _request(temporal, task_queue, settings, *request) for request in requests]
        await _settled(pool, temporal, made)


async def _request(
    temporal: Client, task_queue: str, settings: Settings, session_id: UUID, coach_id: UUID, reason: str
) -> SessionRecord:
    start = WithStartWorkflowOperation(
        SessionWorkflow.run,
        SessionWorkflowInput(session_id=session_id),
        id=session_workflow_id(session_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    request = RequestCancellationInput(
        actor=Actor(id=coach_id, role="coach"),
        reason=reason,
        auto_approve_after=settings.cancellation_auto_approve_after,
        minimum_notice=settings.coach_min_notice,
        request_id=REQUEST_ID,
    )
    return await asyncio.wait_for(
        temporal.execute_update_with_start_workflow(
            SessionWorkflow.request_cancellation,
            request,
            start_workflow_operation=start,
            id=f"{REQUEST_ID}-{session_id}",
        ),
        SETTLE_WITHIN.total_seconds(),
    )


async def _settled(pool: asyncpg.Pool, temporal: Client, made: list[SessionRecord]) -> None:
    """Each request's message sent to the parent, and no task or activity outstanding on its session
    and consent workflows (a worker that stopped mid-delivery would leave the message in doubt)."""
    workflow_ids = [session_workflow_id(s.id) for s in made] + [
        s.consent_workflow_id for s in made if s.consent_workflow_id
    ]
    message_ids = [s.cancellation_message_id for s in made]
    deadline = asyncio.get_running_loop().time() + SETTLE_WITHIN.total_seconds()
    while True:
        sent = await pool.fetchval(
            "SELECT count(*) FROM outbound_messages WHERE id = ANY($1::uuid[]) AND status = 'sent'", message_ids
        )
        if sent == len(made) and await _quiet(temporal, workflow_ids):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"demo cancellation requests not settled within {SETTLE_WITHIN}")
        await asyncio.sleep(0.2)


async def _quiet(temporal: Client, workflow_ids: list[str]) -> bool:
    for workflow_id in workflow_ids:
        try:
            raw = (await temporal.get_workflow_handle(workflow_id).describe()).raw_description
        except RPCError:  # not started yet (the consent child starts after the update's answer)
            return False
        if raw.HasField("pending_workflow_task") or raw.pending_activities:
            return False
    return True


@asynccontextmanager
async def _worker_unless_running(
    pool: asyncpg.Pool, temporal: Client, task_queue: str, settings: Settings
) -> AsyncIterator[None]:
    """A worker on ``task_queue`` for the duration: the one running (its heartbeat is fresh) or one here."""
    if await WorkerHeartbeatRepository(pool).seen_within(task_queue, settings.worker_heartbeat_stale_after):
        yield
        return
    from worker import create_worker, timer_settings  # the worker process's own wiring

    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as http:
        worker = create_worker(
            temporal,
            pool=pool,
            calendar=build_calendar_provider(settings, pool),
            whatsapp=build_whatsapp_provider(settings, http),
            task_queue=task_queue,
            timers=timer_settings(settings),
            embedder=build_embedding_provider(settings),
            brief_writer=build_brief_provider(settings),
            brief_lead_time=settings.brief_lead_time,
            brief_source_count=settings.brief_source_count,
        )
        async with worker:
            yield


async def workflow_exists(temporal: Client, workflow_id: str) -> bool:
    try:
        await temporal.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def start_enrollment_workflows(temporal: Client, task_queue: str, enrollment_ids: list[UUID]) -> None:
    for enrollment_id in enrollment_ids:
        # Idempotent: an existing (running or finished) workflow with this id is left alone.
        try:
            await temporal.start_workflow(
                EnrollmentWorkflow.run,
                EnrollmentWorkflowInput(enrollment_id=enrollment_id),
                id=enrollment_workflow_id(enrollment_id),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass
