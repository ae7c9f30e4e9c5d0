"""SessionWorkflow: the single writer of one session's lifecycle (workflow id ``session-<uuid>``).

scheduled ──(end passes: timer)──▶ pending ──┐
    │                                        ├─(complete / mark_missed / cancel update)─▶ terminal
    └──────(reschedule update)──▶ rescheduled┘

Updates answer after the database transition (a local activity: fast path). Calendar and WhatsApp
side effects then run as regular activities with retries, after the caller has its answer.
"""

import asyncio
from uuid import UUID

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from coach_sessions import rules
    from coach_sessions.contracts import (
        ActionInput,
        Actor,
        CancelInput,
        CompleteInput,
        ConsentDecision,
        ConsentOutcome,
        DecideCancellationInput,
        MarkMissedInput,
        RequestCancellationInput,
        RescheduleInput,
        SessionBrief,
        SessionCatchUp,
        SessionWorkflowInput,
        SessionWorkflowResult,
        TransitionRequest,
        TransitionResult,
        WithdrawCancellationInput,
    )
    from coach_sessions.models import SessionRecord
    from coach_sessions.statuses import (
        TERMINAL_STATUSES,
        CalendarSyncStatus,
        CancellationStatus,
        DecidedBy,
        SessionStatus,
    )
    from workflows import patches, steps
    from workflows.brief_timer import PreSessionBrief
    from workflows.consent_child import ConsentChild
    from workflows.session_machinery import (
        BackgroundTasks,
        CalendarSync,
        publish_status,
        refuse_with,
        request_id,
        until_end,
        validate_with,
    )
    from workflows.session_timers import SessionTimers


@workflow.defn
class SessionWorkflow:
    def __init__(self) -> None:
        self._session: SessionRecord | None = None
        self._changed = False
        # Updates run one at a time: each reads the state the previous one left.
        self._transition_lock = asyncio.Lock()
        self._background = BackgroundTasks()
        self._calendar = CalendarSync(self._background, lambda: self._current().id)
        self._consent = ConsentChild(self._background, self._apply_consent_decision)
        self._brief = PreSessionBrief(self._background, self._current)
        self._dispatched: set[UUID] = set()  # messages this run has sent to delivery
        self._timers: SessionTimers | None = None  # None: a history from before patches.SESSION_TIMERS

    # ----- main loop ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: SessionWorkflowInput) -> SessionWorkflowResult:
        self._set_session(await steps.load_session(request.session_id))
        session = self._current()
        if _calendar_behind(session):
            self._calendar.request()
        if session.version > 1 and workflow.patched(patches.CATCH_UP_AT_START):
            # The row moved before this run began (an update lost with the Temporal server before its
            # first task, a continue-as-new): do what those transitions may have left undone.
            await self._catch_up(await steps.load_catch_up(session.id))
        if workflow.patched(patches.PRE_SESSION_BRIEF):
            self._brief.start_timer()
        if workflow.patched(patches.SESSION_TIMERS):
            self._timers = await SessionTimers.start(request, self._background)

        while self._current().status not in TERMINAL_STATUSES:
            self._changed = False
            if self._timers is not None:
                await self._next_timer(request, self._timers)
                continue
            try:  # (histories from before patches.SESSION_TIMERS: the end timer only)
                await workflow.wait_condition(
                    lambda: self._changed, timeout=until_end(self._current()), timeout_summary="session end → pending"
                )
                continue  # something changed (an update): recompute the timers from the new state
            except TimeoutError:
                pass
            async with self._transition_lock:
                await self._mark_pending()

        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and self._background.idle)
        return SessionWorkflowResult(session_id=request.session_id, final_status=self._current().status)

    async def _next_timer(self, request: SessionWorkflowInput, timers: SessionTimers) -> None:
        """Wait for the next timer of the current state (or a change), then fire what came due."""
        if self._may_continue_as_new(timers):
            workflow.continue_as_new(timers.next_run(request.session_id, self._current()))
        if await timers.wait(self._current(), lambda: self._changed or self._may_continue_as_new(timers)):
            async with self._transition_lock:
                await timers.fire_due(self._current(), self._mark_pending)

    async def _mark_pending(self) -> None:
        if self._current().status == SessionStatus.SCHEDULED:
            self._set_session(await steps.mark_pending(self._current().id))

    def _may_continue_as_new(self, timers: SessionTimers) -> bool:
        """Only at a safe point: no update, side effect or consent child in flight (a new run has none)."""
        return (
            timers.continue_as_new_due()
            and workflow.all_handlers_finished()
            and self._background.idle_except(self._brief.timer_task)
            and not self._consent.waiting
            and not self._transition_lock.locked()
            and self._current().cancellation_status != CancellationStatus.PENDING
        )

    # ----- updates: the session's own actions ----------------------------------------------------

    @workflow.update
    async def complete(self, request: CompleteInput) -> SessionRecord:
        return await self._transition(request)

    @workflow.update
    async def mark_missed(self, request: MarkMissedInput) -> SessionRecord:
        return await self._transition(request)

    @workflow.update
    async def reschedule(self, request: RescheduleInput) -> SessionRecord:
        return await self._transition(request)

    @workflow.update
    async def cancel(self, request: CancelInput) -> SessionRecord:
        return await self._transition(request)

    @workflow.update
    async def request_cancellation(self, request: RequestCancellationInput) -> SessionRecord:
        result = await self._apply(request, request.request_id or request_id())
        await self._consent.start(result.session, result.message_ids)
        return result.session

    def _refuse_when_finished(self) -> None:
        """Refuse before anything is written to history when the answer is already known."""
        if self._session is not None:
            refuse_with(rules.refuse_when_finished, self._session.session_number, self._session.status)

    validate_with(complete, _refuse_when_finished)
    validate_with(mark_missed, _refuse_when_finished)
    validate_with(reschedule, _refuse_when_finished)
    validate_with(cancel, _refuse_when_finished)
    validate_with(request_cancellation, _refuse_when_finished)

    # ----- updates: deciding a pending cancellation ----------------------------------------------

    @workflow.update
    async def withdraw_cancellation(self, request: WithdrawCancellationInput) -> SessionRecord:
        return await self._decide_consent("withdraw", DecidedBy.COACH, request.actor, request)

    @workflow.update
    async def decide_cancellation(self, request: DecideCancellationInput) -> SessionRecord:
        return await self._decide_consent(request.decision, DecidedBy.ADMIN, request.actor, request)

    def _refuse_unless_consent_pending(self) -> None:
        if self._session is not None:
            self._refuse_unless_waiting()

    def _refuse_unless_waiting(self) -> None:
        """A pending request on the row, and the consent child that takes its decision."""
        session = self._session
        pending = session.cancellation_status if session is not None and self._consent.waiting else None
        refuse_with(rules.refuse_unless_cancellation_pending, session.session_number if session else None, pending)

    validate_with(withdraw_cancellation, _refuse_unless_consent_pending)
    validate_with(decide_cancellation, _refuse_unless_consent_pending)

    @workflow.update
    async def generate_brief(self) -> SessionBrief:
        """Generate and store the pre-session brief now; concurrent calls share one generation."""
        await workflow.wait_condition(lambda: self._session is not None)
        return await self._brief.generate()

    @workflow.update
    async def reconcile(self) -> SessionRecord:
        """Catch up with the row after a lost update: its transaction committed, but the Temporal server
        died before the update was in history (api/services/reconciler.py asks). Adopts the row when
        its version moved, then does what a transition may have left undone: its queued messages, the
        calendar, the consent child. Nothing happens twice: each is idempotent or checked first."""
        await workflow.wait_condition(lambda: self._session is not None)
        async with self._transition_lock:
            caught = await steps.load_catch_up(self._current().id)
            if caught.session.version != self._current().version:
                self._set_session(caught.session)
                self._changed = True
        await self._catch_up(caught)
        return self._current()

    async def _catch_up(self, caught: SessionCatchUp) -> None:
        session, request_message = self._current(), self._current().cancellation_message_id
        for message_id in caught.queued_message_ids:
            if message_id != request_message:  # (the request goes out once its consent child exists)
                self._deliver(message_id)
        if _calendar_behind(session):
            self._calendar.request()
        if session.cancellation_status == CancellationStatus.PENDING and not self._consent.waiting:
            await self._consent.start(session, [m for m in caught.queued_message_ids if m == request_message])

    @workflow.query
    def session(self) -> SessionRecord | None:
        return self._session

    # ----- transitions ---------------------------------------------------------------------------

    async def _transition(self, request: ActionInput) -> SessionRecord:
        result = await self._apply(request, request.request_id or request_id())
        self._run_side_effects(result)
        return result.session

    async def _apply(
        self, update: ActionInput | ConsentDecision, request_id: str, *, with_token: bool = False
    ) -> TransitionResult:
        """Run one transition in Postgres, one at a time."""
        # An update can arrive (update-with-start) before run() has loaded the session.
        await workflow.wait_condition(lambda: self._session is not None)
        async with self._transition_lock:
            session_id, now = self._current().id, workflow.now()
            if isinstance(update, ConsentDecision):
                request = TransitionRequest.of_decision(update, session_id, request_id, now, with_token=with_token)
            else:
                request = TransitionRequest.of(update, session_id, request_id, now)
            result = await steps.apply_transition(request)
            self._set_session(result.session)
            self._changed = True
        return result

    def _deliver(self, message_id: UUID) -> None:
        """Deliver a queued message once per run (a catch-up may list one already on its way)."""
        if message_id not in self._dispatched:
            self._dispatched.add(message_id)
            self._background.spawn(steps.deliver_message(message_id))

    def _run_side_effects(self, result: TransitionResult) -> None:
        for message_id in result.message_ids:
            self._deliver(message_id)
        if result.calendar_sync_needed:
            self._calendar.request()

    async def _apply_consent_decision(self, decision: ConsentDecision, request_id: str) -> None:
        with_token = workflow.patched(patches.DECISION_TOKEN)
        result = await self._apply(decision, request_id, with_token=with_token)
        self._run_side_effects(result)

    async def _decide_consent(
        self,
        outcome: ConsentOutcome,
        decided_by: DecidedBy,
        actor: Actor,
        request: WithdrawCancellationInput | DecideCancellationInput,
    ) -> SessionRecord:
        if not self._consent.waiting:
            self._refuse_unless_waiting()
        if request.deadline is not None:  # (inputs recorded before deadlines existed carry none)
            await steps.check_deadline(request.deadline)
        token = request.request_id or request_id()
        await self._consent.decide_first(outcome, decided_by, actor, token, lambda: self._current().cancellation_status)
        return self._current()

    # ----- state -------------------------------------------------------------------------------

    def _current(self) -> SessionRecord:
        assert self._session is not None
        return self._session

    def _set_session(self, session: SessionRecord) -> None:
        previous, self._session = self._session, session
        publish_status(previous, session)


def _calendar_behind(session: SessionRecord) -> bool:
    """The calendar does not hold the session as it is (a cancelled one's event must still go)."""
    return session.calendar_sync_status != CalendarSyncStatus.SYNCED and (
        session.status not in TERMINAL_STATUSES or session.status == SessionStatus.CANCELLED
    )
