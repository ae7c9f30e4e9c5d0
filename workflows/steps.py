"""Every activity call the workflows make, with its options from ``policies``: one line per step.

The workflows read as a list of steps; how each step runs (local or regular activity, timeouts,
retries, how a failure reaches the caller) is decided here.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.briefs import BriefActivities
    from activities.calendar import CalendarActivities
    from activities.enrollment import EnrollmentActivities
    from activities.erasure import ErasureActivities
    from activities.messaging import MessagingActivities
    from activities.reassignment import ReassignmentActivities
    from activities.retention import RetentionActivities
    from activities.sessions import SessionActivities
    from activities.timers import TimerActivities
    from coach_sessions.contracts import (
        CheckDeadlineInput,
        CreateSessionsInput,
        DeliverMessageInput,
        EmbedEventsInput,
        EmbedEventsResult,
        EraseChildInput,
        ErasureStepInput,
        ErasureStepResult,
        GenerateBriefInput,
        LoadSessionInput,
        LoadTimerSettingsInput,
        MarkPendingInput,
        ReassignmentInput,
        ReassignmentStepResult,
        RecordCalendarFailureInput,
        RetentionInput,
        RetentionPurged,
        SessionBrief,
        SessionCatchUp,
        SessionTimerSettings,
        SyncCalendarInput,
        TimerMessageInput,
        TransitionRequest,
        TransitionResult,
    )
    from coach_sessions.errors import ErrorCode
    from coach_sessions.models import SessionRecord
    from workflows import policies

Arg = TypeVar("Arg")
Result = TypeVar("Result")


async def load_session(session_id: UUID) -> SessionRecord:
    return await workflow.execute_local_activity_method(
        SessionActivities.load_session,
        LoadSessionInput(session_id=session_id),
        start_to_close_timeout=policies.DB_ACTIVITY_TIMEOUT,
        retry_policy=policies.DB_RETRY,
    )


async def load_catch_up(session_id: UUID) -> SessionCatchUp:
    return await workflow.execute_local_activity_method(
        SessionActivities.load_catch_up,
        LoadSessionInput(session_id=session_id),
        start_to_close_timeout=policies.DB_ACTIVITY_TIMEOUT,
        retry_policy=policies.DB_RETRY,
    )


async def mark_pending(session_id: UUID) -> SessionRecord:
    return await workflow.execute_local_activity_method(
        SessionActivities.mark_pending,
        MarkPendingInput(session_id=session_id, now=workflow.now()),
        start_to_close_timeout=policies.DB_ACTIVITY_TIMEOUT,
        retry_policy=policies.DB_RETRY,
    )


async def apply_transition(request: TransitionRequest) -> TransitionResult:
    """One transition in Postgres (a local activity: the fast answer path)."""
    return await _refusals_pass_through(SessionActivities.apply_transition, request)


async def check_deadline(deadline: datetime) -> None:
    """Refuse (temporarily_unavailable) once the caller has stopped waiting."""
    await _refusals_pass_through(SessionActivities.check_deadline, CheckDeadlineInput(deadline=deadline))


async def _refusals_pass_through(activity: Callable[[Any, Arg], Awaitable[Result]], argument: Arg) -> Result:
    """Run a database local activity; a business refusal reaches the caller as an
    ``ApplicationError`` whose type is the error code (the API maps it to its HTTP answer)."""
    try:
        return await workflow.execute_local_activity_method(
            activity,
            argument,
            start_to_close_timeout=policies.DB_ACTIVITY_TIMEOUT,
            retry_policy=policies.DB_RETRY,
        )
    except ActivityError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError):
            raise ApplicationError(cause.message, *cause.details, type=cause.type, non_retryable=True) from None
        raise


async def create_sessions(enrollment_id: UUID) -> list[UUID]:
    return await workflow.execute_activity_method(
        EnrollmentActivities.create_sessions,
        CreateSessionsInput(enrollment_id=enrollment_id, now=workflow.now()),
        start_to_close_timeout=policies.ENROLLMENT_ACTIVITY_TIMEOUT,
        retry_policy=policies.ENROLLMENT_RETRY,
    )


async def sync_calendar(session_id: UUID) -> None:
    """Make the calendar match the session; after the give-up time, record the sync as failed."""
    try:
        await workflow.execute_activity_method(
            CalendarActivities.sync_calendar,
            SyncCalendarInput(session_id=session_id),
            start_to_close_timeout=policies.CALENDAR_CALL_TIMEOUT,
            schedule_to_close_timeout=policies.CALENDAR_GIVE_UP_AFTER,
            retry_policy=policies.CALENDAR_RETRY,
        )
    except ActivityError as error:
        await workflow.execute_activity_method(
            CalendarActivities.record_calendar_failure,
            RecordCalendarFailureInput(session_id=session_id, error=str(error.cause)),
            start_to_close_timeout=policies.DB_ACTIVITY_TIMEOUT,
            retry_policy=policies.DB_RETRY,
        )


async def deliver_message(message_id: UUID) -> str:
    """Deliver one outbox message; its final failure is logged, never raised.

    The outbox row records what happened for ops; no session state depends on a message.
    """
    try:
        return await workflow.execute_activity_method(
            MessagingActivities.deliver_message,
            DeliverMessageInput(message_id=message_id),
            start_to_close_timeout=policies.MESSAGE_CALL_TIMEOUT,
            schedule_to_close_timeout=policies.MESSAGE_GIVE_UP_AFTER,
            retry_policy=policies.MESSAGE_RETRY,
        )
    except ActivityError as error:
        workflow.logger.error("message not delivered", extra={"message_id": str(message_id), "error": str(error.cause)})
        return "failed"


async def brief_lead_time() -> timedelta:
    return await workflow.execute_local_activity_method(
        BriefActivities.brief_lead_time,
        start_to_close_timeout=policies.DB_ACTIVITY_TIMEOUT,
        retry_policy=policies.DB_RETRY,
    )


async def generate_brief(session_id: UUID, *, on_demand: bool) -> SessionBrief:
    """Generate and store the session's brief. Its failure reaches the caller as ``brief_unavailable``.

    On demand (a coach is waiting) it tries briefly; ahead of the session it keeps trying for a while.
    """
    try:
        return await workflow.execute_activity_method(
            BriefActivities.generate_brief,
            GenerateBriefInput(session_id=session_id),  # a brief still fresh is reused, not regenerated
            start_to_close_timeout=policies.BRIEF_CALL_TIMEOUT,
            schedule_to_close_timeout=None if on_demand else policies.BRIEF_AHEAD_GIVE_UP_AFTER,
            retry_policy=policies.BRIEF_ON_DEMAND_RETRY if on_demand else policies.BRIEF_AHEAD_RETRY,
            summary="pre-session brief",
        )
    except ActivityError as error:
        raise ApplicationError(
            f"The brief could not be generated: {error.cause}", type=ErrorCode.BRIEF_UNAVAILABLE, non_retryable=True
        ) from None


async def purge_expired_personal_data(request: RetentionInput) -> RetentionPurged:
    return await workflow.execute_activity_method(
        RetentionActivities.purge_expired_personal_data,
        request,
        start_to_close_timeout=policies.RETENTION_ACTIVITY_TIMEOUT,
        retry_policy=policies.DB_RETRY,
    )


async def embed_learning_events(child_id: UUID | None) -> EmbedEventsResult:
    return await workflow.execute_activity_method(
        BriefActivities.embed_learning_events,
        EmbedEventsInput(child_id=child_id),
        start_to_close_timeout=policies.EMBED_ACTIVITY_TIMEOUT,
        schedule_to_close_timeout=policies.EMBED_GIVE_UP_AFTER,
        retry_policy=policies.EMBED_RETRY,
    )


async def load_timer_settings() -> SessionTimerSettings:
    """The worker's reminder and nudge settings, once per workflow run (then kept in its history)."""
    return await workflow.execute_local_activity_method(
        TimerActivities.load_timer_settings,
        LoadTimerSettingsInput(),
        start_to_close_timeout=policies.DB_ACTIVITY_TIMEOUT,
        retry_policy=policies.DB_RETRY,
    )


async def enqueue_timer_message(request: TimerMessageInput) -> UUID | None:
    """Queue a reminder or nudge in the outbox (None: the session no longer calls for it)."""
    return await workflow.execute_local_activity_method(
        TimerActivities.enqueue_timer_message,
        request,
        start_to_close_timeout=policies.DB_ACTIVITY_TIMEOUT,
        retry_policy=policies.DB_RETRY,
    )


async def record_erasure(request: EraseChildInput) -> None:
    await workflow.execute_activity_method(
        ErasureActivities.record_erasure,
        request,
        start_to_close_timeout=policies.DB_ACTIVITY_TIMEOUT,
        retry_policy=policies.ERASURE_RETRY,
    )


async def end_child_workflows(child_id: UUID) -> ErasureStepResult:
    return await _erasure_step(ErasureActivities.end_child_workflows, child_id)


async def remove_child_calendar_events(child_id: UUID) -> ErasureStepResult:
    return await _erasure_step(ErasureActivities.remove_child_calendar_events, child_id)


async def scrub_child(child_id: UUID) -> ErasureStepResult:
    return await _erasure_step(ErasureActivities.scrub_child, child_id)


async def _erasure_step(
    activity: Callable[[Any, ErasureStepInput], Awaitable[ErasureStepResult]], child_id: UUID
) -> ErasureStepResult:
    return await workflow.execute_activity_method(
        activity,
        ErasureStepInput(child_id=child_id),
        start_to_close_timeout=policies.ERASURE_ACTIVITY_TIMEOUT,
        heartbeat_timeout=policies.ERASURE_HEARTBEAT_TIMEOUT,
        retry_policy=policies.ERASURE_RETRY,
    )


# ----- reassigning a child (workflows/reassignment.py) --------------------------------------------


async def remove_old_calendar_events(request: ReassignmentInput) -> ReassignmentStepResult:
    return await _reassignment_step(ReassignmentActivities.remove_old_calendar_events, request)


async def resync_moved_sessions(request: ReassignmentInput) -> ReassignmentStepResult:
    return await _reassignment_step(ReassignmentActivities.resync_moved_sessions, request)


async def reassignment_message(request: ReassignmentInput) -> UUID | None:
    return await workflow.execute_activity_method(
        ReassignmentActivities.reassignment_message,
        request,
        start_to_close_timeout=policies.DB_ACTIVITY_TIMEOUT,
        retry_policy=policies.ERASURE_RETRY,
    )


async def complete_reassignment(request: ReassignmentInput) -> None:
    await workflow.execute_activity_method(
        ReassignmentActivities.complete_reassignment,
        request,
        start_to_close_timeout=policies.DB_ACTIVITY_TIMEOUT,
        retry_policy=policies.ERASURE_RETRY,
    )


async def _reassignment_step(
    activity: Callable[[Any, ReassignmentInput], Awaitable[ReassignmentStepResult]], request: ReassignmentInput
) -> ReassignmentStepResult:
    return await workflow.execute_activity_method(
        activity,
        request,
        start_to_close_timeout=policies.ERASURE_ACTIVITY_TIMEOUT,
        heartbeat_timeout=policies.REASSIGNMENT_HEARTBEAT_TIMEOUT,
        retry_policy=policies.ERASURE_RETRY,
    )
