"""SessionWorkflow: the single writer of one session's lifecycle (workflow id ``session-<uuid>``).

scheduled ──(end passes: timer)──▶ pending ──┐
    │                                        ├─(complete / mark_missed / cancel update)─▶ terminal
    └──────(reschedule update)──▶ rescheduled┘

Updates answer after the database transition (a local activity: fast path). Calendar and WhatsApp
side effects then run as regular activities with retries, after the caller has its answer.
"""

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.calendar import CalendarActivities
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
    from coach_sessions.statuses import (
        TERMINAL_STATUSES,
        CalendarSyncStatus,
        CancellationStatus,
        DecidedBy,
        SessionStatus,
    )
    from coach_sessions.temporal import CHILD_ID, COACH_ID, SESSION_NUMBER, SESSION_STATUS
    from workflows.consent import CancellationConsentWorkflow
    from workflows.inputs import (
        CancelInput,
        CompleteInput,
        ConsentDecision,
        ConsentInput,
        ConsentOutcome,
        DecideCancellationInput,
        LoadSessionInput,
        MarkMissedInput,
        MarkPendingInput,
        RecordCalendarFailureInput,
        RequestCancellationInput,
        RescheduleInput,
        SessionWorkflowInput,
        SessionWorkflowResult,
        SyncCalendarInput,
        WithdrawCancellationInput,
    )
    from workflows.session_policies import (
        CALENDAR_GIVE_UP_AFTER,
        CALENDAR_RETRY,
        DB_ACTIVITY_TIMEOUT,
        DB_RETRY,
        deliver_message,
    )

ConsentHandle = workflow.ChildWorkflowHandle[CancellationConsentWorkflow, ConsentDecision]


@workflow.defn
class SessionWorkflow:
    def __init__(self) -> None:
        self._session: SessionRecord | None = None
        self._changed = False
        # Updates run one at a time: each reads the state the previous one left.
        self._transition_lock = asyncio.Lock()
        self._calendar_dirty = False
        self._calendar_task: asyncio.Task[Any] | None = None
        self._side_effects: set[asyncio.Task[Any]] = set()
        self._consent: ConsentHandle | None = None
        self._consent_task: asyncio.Task[Any] | None = None
        self._last_consent_decision: ConsentDecision | None = None

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
                f"Session {self._session.session_number} is {self._session.status}; this action is not possible.",
                {"current_status": self._session.status},
                type=ErrorCode.INVALID_STATUS,
                non_retryable=True,
            )

    async def _transition(self, action: SessionAction, actor: Actor, **fields: Any) -> SessionRecord:
        update = workflow.current_update_info()
        result = await self._apply(action, actor, update.id if update else str(workflow.uuid4()), **fields)
        self._run_side_effects(result)
        return result.session

    async def _apply(self, action: SessionAction, actor: Actor, request_id: str, **fields: Any) -> TransitionResult:
        """Run one transition in Postgres (a local activity: the fast answer path), one at a time."""
        # An update can arrive (update-with-start) before run() has loaded the session.
        await workflow.wait_condition(lambda: self._session is not None)
        async with self._transition_lock:
            try:
                result: TransitionResult = await workflow.execute_local_activity_method(
                    SessionActivities.apply_transition,
                    TransitionRequest(
                        session_id=self._current().id,
                        action=action,
                        request_id=request_id,
                        actor=actor,
                        now=workflow.now(),
                        **fields,
                    ),
                    start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                    retry_policy=DB_RETRY,
                )
            except ActivityError as error:
                cause = error.cause
                if isinstance(cause, ApplicationError):
                    # Hand the business refusal to the caller as is (its type is the error code).
                    raise ApplicationError(cause.message, *cause.details, type=cause.type, non_retryable=True) from None
                raise
            self._set_session(result.session)
            self._changed = True
        return result

    def _run_side_effects(self, result: TransitionResult) -> None:
        for message_id in result.message_ids:
            self._spawn(deliver_message(message_id))
        if result.calendar_sync_needed:
            self._request_calendar_sync()

    # ----- cancellation consent --------------------------------------------------------------------

    @workflow.update
    async def request_cancellation(self, request: RequestCancellationInput) -> SessionRecord:
        update = workflow.current_update_info()
        result = await self._apply(
            SessionAction.REQUEST_CANCELLATION,
            request.actor,
            update.id if update else str(workflow.uuid4()),
            reason=request.reason,
            consent_window=request.auto_approve_after,
        )
        session = result.session
        assert session.cancellation_expires_at is not None and session.consent_workflow_id is not None
        consent_input = ConsentInput(
            session_id=session.id,
            request_message_ids=result.message_ids,
            expires_at=session.cancellation_expires_at,
        )
        self._consent = await workflow.start_child_workflow(
            CancellationConsentWorkflow.run,
            consent_input,
            id=session.consent_workflow_id,
            static_summary=f"consent for session {session.session_number}",
        )
        self._consent_task = self._spawn(self._await_consent(self._consent))
        return session

    @request_cancellation.validator
    def _validate_request_cancellation(self, request: RequestCancellationInput) -> None:
        self._reject_if_terminal()

    async def _await_consent(self, handle: "ConsentHandle") -> None:
        decision = await handle
        action = {
            "approve": SessionAction.APPROVE_CANCELLATION,
            "reject": SessionAction.REJECT_CANCELLATION,
            "withdraw": SessionAction.WITHDRAW_CANCELLATION,
        }[decision.outcome]
        result = await self._apply(action, decision.actor, f"consent:{handle.id}", decided_by=decision.decided_by.value)
        self._last_consent_decision = decision
        self._consent = None
        self._run_side_effects(result)

    @workflow.update
    async def withdraw_cancellation(self, request: WithdrawCancellationInput) -> SessionRecord:
        return await self._decide_consent("withdraw", DecidedBy.COACH, request.actor)

    @withdraw_cancellation.validator
    def _validate_withdraw(self, request: WithdrawCancellationInput) -> None:
        self._reject_unless_consent_pending()

    @workflow.update
    async def decide_cancellation(self, request: DecideCancellationInput) -> SessionRecord:
        return await self._decide_consent(request.decision, DecidedBy.ADMIN, request.actor)

    @decide_cancellation.validator
    def _validate_decide(self, request: DecideCancellationInput) -> None:
        self._reject_unless_consent_pending()

    async def _decide_consent(self, outcome: ConsentOutcome, decided_by: DecidedBy, actor: Actor) -> SessionRecord:
        consent, task = self._consent, self._consent_task
        if consent is None or task is None:
            raise _no_pending_request(self._session)
        update = workflow.current_update_info()
        token = update.id if update else str(workflow.uuid4())
        try:
            await consent.signal(
                CancellationConsentWorkflow.decide,
                ConsentDecision(outcome=outcome, decided_by=decided_by, actor=actor, token=token),
            )
        except FailureError:
            pass  # the consent workflow already closed: another decision won; reported below
        await workflow.wait_condition(task.done)
        winner = self._last_consent_decision
        if winner is None or winner.token != token:
            # Another decision (the parent's tap, the timer, someone else) got there first.
            raise ApplicationError(
                "The cancellation request was already decided"
                + (f": {winner.outcome} by {winner.decided_by.value}." if winner else "."),
                {"cancellation_status": self._current().cancellation_status},
                type=ErrorCode.NO_CANCELLATION_PENDING,
                non_retryable=True,
            )
        return self._current()

    def _reject_unless_consent_pending(self) -> None:
        if self._session is not None and (
            self._session.cancellation_status != CancellationStatus.PENDING or self._consent is None
        ):
            raise _no_pending_request(self._session)

    # ----- side effects ------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any]":
        """Run a side effect in the background; the workflow ends only after all of them."""
        task = asyncio.create_task(coroutine)
        self._side_effects.add(task)
        task.add_done_callback(self._side_effects.discard)
        return task

    def _request_calendar_sync(self) -> None:
        """Coalesce: at most one sync runs; a change during it triggers one more pass."""
        self._calendar_dirty = True
        if self._calendar_task is None or self._calendar_task.done():
            self._calendar_task = self._spawn(self._calendar_loop())

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


def _no_pending_request(session: SessionRecord | None) -> ApplicationError:
    return ApplicationError(
        "There is no cancellation request awaiting an answer.",
        {"cancellation_status": session.cancellation_status if session else None},
        type=ErrorCode.NO_CANCELLATION_PENDING,
        non_retryable=True,
    )
