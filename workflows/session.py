"""SessionWorkflow: the single writer of one session's lifecycle (workflow id ``session-<uuid>``).

scheduled ──(end passes: timer)──▶ pending ──┐
    │                                        ├─(complete / mark_missed / cancel update)─▶ terminal
    └──────(reschedule update)──▶ rescheduled┘

Updates answer after the database transition (a local activity: fast path). Calendar and WhatsApp
side effects then run as regular activities with retries, after the caller has its answer.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.calendar import CalendarActivities
    from activities.errors import CALENDAR_REJECTED, MESSAGE_REJECTED
    from activities.messaging import MessagingActivities
    from activities.sessions import SessionActivities
    from coach_sessions.actions import (
        Actor,
        SessionAction,
        TransitionRequest,
        TransitionResult,
    )
    from coach_sessions.errors import ErrorCode
    from coach_sessions.models import SessionRecord
    from coach_sessions.repositories.sessions import session_end
    from coach_sessions.statuses import TERMINAL_STATUSES, CalendarSyncStatus, SessionStatus
    from coach_sessions.temporal import CHILD_ID, COACH_ID, SESSION_NUMBER, SESSION_STATUS
    from workflows.inputs import (
        CancelInput,
        CompleteInput,
        DeliverMessageInput,
        LoadSessionInput,
        MarkMissedInput,
        MarkPendingInput,
        RecordCalendarFailureInput,
        RescheduleInput,
        SessionWorkflowInput,
        SessionWorkflowResult,
        SyncCalendarInput,
    )

DB_ACTIVITY_TIMEOUT = timedelta(seconds=10)
DB_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)
# A calendar outage heals on its own: retry with backoff for up to a day, then report "failed".
CALENDAR_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=[CALENDAR_REJECTED],
)
CALENDAR_GIVE_UP_AFTER = timedelta(days=1)
MESSAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[MESSAGE_REJECTED],
)
MESSAGE_GIVE_UP_AFTER = timedelta(hours=12)


@workflow.defn
class SessionWorkflow:
    def __init__(self) -> None:
        self._session: SessionRecord | None = None
        self._changed = False
        # Updates run one at a time: each reads the state the previous one left.
        self._transition_lock = asyncio.Lock()
        self._calendar_dirty = False
        self._calendar_task: asyncio.Task[None] | None = None
        self._side_effects: set[asyncio.Task[None]] = set()

    # ----- main loop ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: SessionWorkflowInput) -> SessionWorkflowResult:
        self._set_session(
            await workflow.execute_local_activity_method(
                SessionActivities.load_session,
                LoadSessionInput(session_id=request.session_id),
                start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                retry_policy=DB_RETRY,
            )
        )
        session = self._current()
        if session.calendar_sync_status != CalendarSyncStatus.SYNCED and (
            session.status not in TERMINAL_STATUSES or session.status == SessionStatus.CANCELLED
        ):
            self._request_calendar_sync()

        while self._current().status not in TERMINAL_STATUSES:
            self._changed = False
            timeout = self._until_next_timer()
            try:
                await workflow.wait_condition(
                    lambda: self._changed, timeout=timeout, timeout_summary="session end → pending"
                )
                continue  # something changed (an update): recompute the timers from the new state
            except TimeoutError:
                pass
            async with self._transition_lock:
                if self._current().status == SessionStatus.SCHEDULED:
                    self._set_session(
                        await workflow.execute_local_activity_method(
                            SessionActivities.mark_pending,
                            MarkPendingInput(session_id=request.session_id, now=workflow.now()),
                            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                            retry_policy=DB_RETRY,
                        )
                    )

        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._side_effects)
        return SessionWorkflowResult(session_id=request.session_id, final_status=self._current().status)

    def _until_next_timer(self) -> timedelta | None:
        """Time until the next timer of the current state (None: wait for an update only).

        Driven from the session's current time, so a reschedule moves every timer.
        """
        session = self._current()
        if session.status != SessionStatus.SCHEDULED:
            return None
        return max(session_end(session) - workflow.now(), timedelta(0))

    # ----- updates ---------------------------------------------------------------------------------

    @workflow.update
    async def complete(self, request: CompleteInput) -> SessionRecord:
        return await self._transition(SessionAction.COMPLETE, request.actor, notes=request.notes)

    @complete.validator
    def _validate_complete(self, request: CompleteInput) -> None:
        self._reject_if_terminal()

    @workflow.update
    async def mark_missed(self, request: MarkMissedInput) -> SessionRecord:
        return await self._transition(
            SessionAction.MARK_MISSED,
            request.actor,
            notes=request.notes,
            notify_parent=request.notify_parent,
        )

    @mark_missed.validator
    def _validate_mark_missed(self, request: MarkMissedInput) -> None:
        self._reject_if_terminal()

    @workflow.update
    async def reschedule(self, request: RescheduleInput) -> SessionRecord:
        return await self._transition(
            SessionAction.RESCHEDULE,
            request.actor,
            new_scheduled_at=request.new_scheduled_at,
            reason=request.reason,
        )

    @reschedule.validator
    def _validate_reschedule(self, request: RescheduleInput) -> None:
        self._reject_if_terminal()

    @workflow.update
    async def cancel(self, request: CancelInput) -> SessionRecord:
        return await self._transition(SessionAction.CANCEL, request.actor, reason=request.reason)

    @cancel.validator
    def _validate_cancel(self, request: CancelInput) -> None:
        self._reject_if_terminal()

    @workflow.query
    def session(self) -> SessionRecord | None:
        return self._session

    def _reject_if_terminal(self) -> None:
        """Refuse before anything is written to history when the answer is already known."""
        if self._session is not None and self._session.status in TERMINAL_STATUSES:
            raise ApplicationError(
                f"Session {self._session.session_number} is {self._session.status}; "
                "this action is not possible.",
                {"current_status": self._session.status},
                type=ErrorCode.INVALID_STATUS,
                non_retryable=True,
            )

    async def _transition(self, action: SessionAction, actor: Actor, **fields: object) -> SessionRecord:
        # An update can arrive (update-with-start) before run() has loaded the session.
        await workflow.wait_condition(lambda: self._session is not None)
        update = workflow.current_update_info()
        async with self._transition_lock:
            try:
                result: TransitionResult = await workflow.execute_local_activity_method(
                    SessionActivities.apply_transition,
                    TransitionRequest(
                        session_id=self._current().id,
                        action=action,
                        request_id=update.id if update else str(workflow.uuid4()),
                        actor=actor,
                        now=workflow.now(),
                        **fields,  # type: ignore[arg-type]
                    ),
                    start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                    retry_policy=DB_RETRY,
                )
            except ActivityError as error:
                cause = error.cause
                if isinstance(cause, ApplicationError):
                    # Hand the business refusal to the caller as is (its type is the error code).
                    raise ApplicationError(
                        cause.message, *cause.details, type=cause.type, non_retryable=True
                    ) from None
                raise
            self._set_session(result.session)
            self._changed = True
        for message_id in result.message_ids:
            self._spawn(self._deliver(message_id))
        if result.calendar_sync_needed:
            self._request_calendar_sync()
        return result.session

    # ----- side effects ------------------------------------------------------------------------

    def _spawn(self, coroutine: "asyncio.Future[None] | object") -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)  # type: ignore[arg-type]
        self._side_effects.add(task)
        task.add_done_callback(self._side_effects.discard)

    async def _deliver(self, message_id: object) -> None:
        try:
            await workflow.execute_activity_method(
                MessagingActivities.deliver_message,
                DeliverMessageInput(message_id=message_id),  # type: ignore[arg-type]
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=MESSAGE_GIVE_UP_AFTER,
                retry_policy=MESSAGE_RETRY,
            )
        except ActivityError as error:
            # The outbox row says what happened; the session's state does not depend on it.
            workflow.logger.error(
                "message not delivered", extra={"message_id": str(message_id), "error": str(error.cause)}
            )

    def _request_calendar_sync(self) -> None:
        """Coalesce: at most one sync runs; a change during it triggers one more pass."""
        self._calendar_dirty = True
        if self._calendar_task is None or self._calendar_task.done():
            self._calendar_task = asyncio.create_task(self._calendar_loop())
            self._side_effects.add(self._calendar_task)
            self._calendar_task.add_done_callback(self._side_effects.discard)

    async def _calendar_loop(self) -> None:
        while self._calendar_dirty:
            self._calendar_dirty = False
            try:
                await workflow.execute_activity_method(
                    CalendarActivities.sync_calendar,
                    SyncCalendarInput(session_id=self._current().id),
                    start_to_close_timeout=timedelta(seconds=30),
                    schedule_to_close_timeout=CALENDAR_GIVE_UP_AFTER,
                    retry_policy=CALENDAR_RETRY,
                )
            except ActivityError as error:
                await workflow.execute_activity_method(
                    CalendarActivities.record_calendar_failure,
                    RecordCalendarFailureInput(session_id=self._current().id, error=str(error.cause)),
                    start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                    retry_policy=DB_RETRY,
                )

    # ----- state -------------------------------------------------------------------------------

    def _current(self) -> SessionRecord:
        assert self._session is not None
        return self._session

    def _set_session(self, session: SessionRecord) -> None:
        previous, self._session = self._session, session
        if previous is not None and previous.status == session.status:
            return  # the search attributes only follow the status; no history event for nothing
        workflow.upsert_search_attributes(
            [
                CHILD_ID.value_set(str(session.child_id)),
                COACH_ID.value_set(str(session.coach_id)),
                SESSION_NUMBER.value_set(session.session_number),
                SESSION_STATUS.value_set(session.status),
            ]
        )
