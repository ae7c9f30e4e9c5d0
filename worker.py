"""The Temporal worker process: one asyncpg pool, one HTTP client, providers built once."""

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities.briefs import BriefActivities
from activities.calendar import CalendarActivities
from activities.enrollment import EnrollmentActivities
from activities.erasure import ErasureActivities
from activities.messaging import MessagingActivities
from activities.reassignment import ReassignmentActivities
from activities.retention import RetentionActivities
from activities.retrying import RetryingActivitiesInterceptor
from activities.sessions import SessionActivities
from activities.timers import TimerActivities
from coach_sessions.contracts import SessionTimerSettings
from coach_sessions.db import create_pool
from coach_sessions.logging import configure_logging
from coach_sessions.providers.brief import BriefProvider, LocalBriefProvider, build_brief_provider
from coach_sessions.providers.calendar import CalendarProvider, build_calendar_provider
from coach_sessions.providers.embeddings import EmbeddingProvider, LocalEmbeddingProvider, build_embedding_provider
from coach_sessions.providers.whatsapp import WhatsAppProvider, build_whatsapp_provider
from coach_sessions.repositories.briefs import BriefRepository
from coach_sessions.repositories.embeddings import EmbeddingRepository
from coach_sessions.repositories.enrollments import EnrollmentRepository
from coach_sessions.repositories.erasures import ErasureRepository
from coach_sessions.repositories.outbox import OutboxRepository
from coach_sessions.repositories.reassignments import ReassignmentRepository
from coach_sessions.repositories.retention import RetentionRepository
from coach_sessions.repositories.retrying_activities import RetryingActivityRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.repositories.timer_messages import TimerMessageRepository
from coach_sessions.repositories.workers import WorkerHeartbeatRepository
from coach_sessions.retention import keep_trying_to_start_retention
from coach_sessions.rules import CALLBACK_NOTICE_WINDOW
from coach_sessions.settings import Settings, get_settings
from coach_sessions.temporal import connect
from workflows.brief import SessionBriefWorkflow
from workflows.consent import CancellationConsentWorkflow
from workflows.embedding import EmbedLearningEventsWorkflow
from workflows.enrollment import EnrollmentWorkflow
from workflows.erasure import ChildErasureWorkflow
from workflows.outbox import OutboxDeliveryWorkflow
from workflows.reassignment import ReassignmentWorkflow
from workflows.retention import PersonalDataRetentionWorkflow
from workflows.session import SessionWorkflow

log = logging.getLogger("coach_sessions.worker")

WORKFLOWS = [
    SessionWorkflow,
    EnrollmentWorkflow,
    CancellationConsentWorkflow,
    OutboxDeliveryWorkflow,
    SessionBriefWorkflow,
    EmbedLearningEventsWorkflow,
    PersonalDataRetentionWorkflow,
    ChildErasureWorkflow,
    ReassignmentWorkflow,
]


def create_worker(
    client: Client,
    *,
    pool: asyncpg.Pool,
    calendar: CalendarProvider,
    whatsapp: WhatsAppProvider,
    task_queue: str,
    max_cached_workflows: int = 1000,
    max_concurrent_workflow_tasks: int = 100,
    embedder: EmbeddingProvider | None = None,
    brief_writer: BriefProvider | None = None,
    brief_lead_time: timedelta = timedelta(hours=2),
    brief_source_count: int = 12,
    replace_activities: Sequence[Callable[..., Any]] = (),
    workflows: Sequence[type] = WORKFLOWS,
    timers: SessionTimerSettings | None = None,
    callback_notice_window: timedelta = CALLBACK_NOTICE_WINDOW,
) -> Worker:
    """The worker with every workflow and activity. ``replace_activities`` swaps activities of the
    same name (tests use it to inject crashes). Embedder and brief writer default to the local ones.
    ``timers``: the sessions' reminders and nudges (``timer_settings``; None: none)."""
    sessions = SessionRepository(pool)
    session_activities = SessionActivities(sessions, callback_notice_window=callback_notice_window)
    enrollment_activities = EnrollmentActivities(EnrollmentRepository(pool))
    calendar_activities = CalendarActivities(sessions, calendar)
    messaging_activities = MessagingActivities(OutboxRepository(pool), whatsapp)
    timer_activities = TimerActivities(TimerMessageRepository(pool), timers or SessionTimerSettings())
    retention_activities = RetentionActivities(RetentionRepository(pool))
    erasure_activities = ErasureActivities(ErasureRepository(pool), calendar, client)
    reassignment_activities = ReassignmentActivities(ReassignmentRepository(pool), calendar, client)
    brief_activities = BriefActivities(
        BriefRepository(pool),
        EmbeddingRepository(pool),
        embedder or LocalEmbeddingProvider(),
        brief_writer or LocalBriefProvider(),
        source_count=brief_source_count,
        lead_time=brief_lead_time,
    )
    activities: list[Callable[..., Any]] = [
        session_activities.load_session,
        session_activities.load_catch_up,
        session_activities.mark_pending,
        session_activities.apply_transition,
        session_activities.check_deadline,
        enrollment_activities.create_sessions,
        calendar_activities.sync_calendar,
        calendar_activities.record_calendar_failure,
        messaging_activities.deliver_message,
        timer_activities.load_timer_settings,
        timer_activities.enqueue_timer_message,
        brief_activities.brief_lead_time,
        brief_activities.embed_learning_events,
        brief_activities.generate_brief,
        retention_activities.purge_expired_personal_data,
        erasure_activities.record_erasure,
        erasure_activities.end_child_workflows,
        erasure_activities.remove_child_calendar_events,
        erasure_activities.scrub_child,
        reassignment_activities.remove_old_calendar_events,
        reassignment_activities.resync_moved_sessions,
        reassignment_activities.reassignment_message,
        reassignment_activities.complete_reassignment,
    ]
    # Activities are registered under their function names, so a replacement must carry that name.
    replacements = {a.__name__: a for a in replace_activities}
    activities = [replacements.pop(a.__name__, a) for a in activities]
    if replacements:
        raise ValueError(f"no activity to replace named {sorted(replacements)}")
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activities,
        # Activities failing attempt after attempt are listed for ops (the ops queue's retrying_activities).
        interceptors=[RetryingActivitiesInterceptor(RetryingActivityRepository(pool))],
        max_cached_workflows=max_cached_workflows,
        # The SDK's default (100) unless WORKER_MAX_CONCURRENT_WORKFLOW_TASKS says otherwise. Activations
        # run Python code under the GIL: in bench figure 4 (1,000 children enrolled at once on a busy
        # 2-core machine) hundreds of first tasks took over 5 s and two tripped the 2 s deadlock detector.
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        # A dead worker's cached workflows get their next task only after this (then any worker takes
        # it): the default 10 s is longer than an action's answer bound (ACTION_ANSWER_WITHIN, 5 s).
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=2),
    )


def timer_settings(settings: Settings) -> SessionTimerSettings:
    """What every new session workflow reads at its start (docs/domain.md, "Timers and nudges")."""
    return SessionTimerSettings(
        reminders=settings.session_reminders,
        nudge_after=settings.pending_nudge_after,
        nudge_repeat=settings.pending_nudge_repeat,
        nudge_max=settings.pending_nudge_max,
    )


@asynccontextmanager
async def heartbeat(pool: asyncpg.Pool, task_queue: str, every: timedelta) -> AsyncIterator[None]:
    """Mark this worker alive every ``every`` while it runs (read by the API's /readyz)."""
    identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    beats = WorkerHeartbeatRepository(pool)

    async def beat_forever() -> None:
        while True:
            try:
                await beats.beat(identity, task_queue)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("heartbeat not recorded", extra={"error": repr(error)})
            await asyncio.sleep(every.total_seconds())

    task = asyncio.create_task(beat_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await beats.forget(identity)


async def run_worker(settings: Settings) -> None:
    pool = await create_pool(
        settings.database_url, min_size=settings.db_pool_min_size, max_size=settings.db_pool_max_size
    )
    client = await connect(settings)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as http:
        worker = create_worker(
            client,
            pool=pool,
            calendar=build_calendar_provider(settings, pool),
            whatsapp=build_whatsapp_provider(settings, http),
            task_queue=settings.temporal_task_queue,
            max_cached_workflows=settings.worker_max_cached_workflows,
            max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
            timers=timer_settings(settings),
            callback_notice_window=settings.callback_notice_window,
            # Built once per process: wordllama loads its weights here, not per call.
            embedder=build_embedding_provider(settings),
            brief_writer=build_brief_provider(settings),
            brief_lead_time=settings.brief_lead_time,
            brief_source_count=settings.brief_source_count,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "worker started",
            extra={
                "task_queue": settings.temporal_task_queue,
                "calendar_provider": settings.calendar_provider,
                "whatsapp_provider": settings.whatsapp_provider,
                "embedding_provider": settings.embedding_provider,
                "brief_provider": settings.brief_provider,
            },
        )
        async with worker, heartbeat(pool, settings.temporal_task_queue, settings.worker_heartbeat_every):
            starting = asyncio.create_task(keep_trying_to_start_retention(client, settings))
            await stop.wait()
            starting.cancel()
        log.info("worker stopped")
    await pool.close()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
