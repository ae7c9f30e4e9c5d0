"""ConsentChild: how a SessionWorkflow runs its cancellation-consent child (workflows/consent.py).

Started after the request-cancellation update answers, awaited in the background, told the coach's
withdrawal or an admin's decision; whichever decision the child returns is applied to the session.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError, FailureError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import Actor, ConsentDecision, ConsentInput, ConsentOutcome
    from coach_sessions.errors import ErrorCode
    from coach_sessions.models import SessionRecord
    from coach_sessions.statuses import CancellationStatus, DecidedBy
    from workflows import patches, steps
    from workflows.consent import CancellationConsentWorkflow
    from workflows.session_machinery import BackgroundTasks

ConsentHandle = workflow.ChildWorkflowHandle[CancellationConsentWorkflow, ConsentDecision]
# Applies the consent child's decision to the session (given the decision and its request id).
ApplyDecision = Callable[[ConsentDecision, str], Awaitable[None]]


def _lapsed() -> ConsentDecision:
    """The decision when the consent process cannot go on: the request is withdrawn by the system."""
    return ConsentDecision(
        outcome="withdraw", decided_by=DecidedBy.SYSTEM, actor=Actor(id=None, role="system"), token="failed"
    )


class ConsentChild:
    """The cancellation-consent child workflow of one session: started, awaited, told our decisions."""

    def __init__(self, tasks: BackgroundTasks, apply_decision: ApplyDecision) -> None:
        self._tasks = tasks
        self._apply_decision = apply_decision
        self._handle: ConsentHandle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._last_decision: ConsentDecision | None = None
        self._starting: str | None = None  # the id of a child being started (patches.CHILD_AFTER_ANSWER)

    def _current_id(self) -> str | None:
        return self._handle.id if self._handle is not None else self._starting

    @property
    def waiting(self) -> bool:
        """A request is awaiting its decision (its child may still be starting)."""
        return self._handle is not None or self._starting is not None

    async def start(self, session: SessionRecord, message_ids: list[UUID]) -> None:
        if workflow.patched(patches.CHILD_AFTER_ANSWER):
            # Awaiting the child's start cost the caller a second workflow task (about as much again
            # as the transition itself): the caller's answer only needs the committed transition.
            if session.cancellation_status != CancellationStatus.PENDING:
                return  # a keyed retry of a request that has been decided since
            if self._current_id() == session.consent_workflow_id:
                return  # a keyed retry while its first attempt's child is starting or waiting
            self._starting = session.consent_workflow_id
            self._task = self._tasks.spawn(self._start_then_await(session, message_ids))
            return
        if workflow.patched(patches.REQUEST_SENT_BY_SESSION):
            # The parent's request goes out beside the child, so that a decision (a withdrawal, an
            # admin) never waits for a WhatsApp outage to end before it is applied.
            for message_id in message_ids:
                self._tasks.spawn(steps.deliver_message(message_id))
            message_ids = []
        self._handle = await self._start_child(session, message_ids)
        self._task = self._tasks.spawn(self._await_decision(self._handle))

    async def _start_child(self, session: SessionRecord, message_ids: list[UUID]) -> ConsentHandle:
        assert session.cancellation_expires_at is not None and session.consent_workflow_id is not None
        return await workflow.start_child_workflow(
            CancellationConsentWorkflow.run,
            ConsentInput(
                session_id=session.id,
                request_message_ids=message_ids,
                expires_at=session.cancellation_expires_at,
            ),
            id=session.consent_workflow_id,
            static_summary=f"consent for session {session.session_number}",
        )

    async def _start_then_await(self, session: SessionRecord, message_ids: list[UUID]) -> None:
        assert session.consent_workflow_id is not None
        try:
            handle = await self._start_child(session, [])
        except WorkflowAlreadyStartedError as error:
            # Nobody could take the parent's answer (the id is taken): the request lapses, as when
            # the child fails, rather than staying "pending" with nobody to answer it.
            workflow.logger.error("consent workflow not started", extra={"error": str(error)})
            await self._apply(_lapsed(), f"consent:{session.consent_workflow_id}")
            self._starting = None
            return
        self._handle, self._starting = handle, None
        # The parent's request goes out once the child that takes the tap exists; beside it, so a
        # decision (a withdrawal, an admin) never waits for a WhatsApp outage to end.
        for message_id in message_ids:
            self._tasks.spawn(steps.deliver_message(message_id))
        await self._await_decision(handle)

    async def _await_decision(self, handle: ConsentHandle) -> None:
        try:
            decision = await handle
        except ChildWorkflowError as error:
            if not workflow.patched(patches.CONSENT_FAILURE_WITHDRAWS):
                raise
            # The consent process broke (a bug, a terminated child): the request lapses and the
            # session stands, rather than staying "pending" with nobody to answer it.
            workflow.logger.error("consent workflow failed", extra={"workflow_id": handle.id, "error": str(error)})
            decision = _lapsed()
        await self._apply(decision, f"consent:{handle.id}")
        self._handle = None

    async def _apply(self, decision: ConsentDecision, request_id: str) -> None:
        await self._apply_decision(decision, request_id)
        self._last_decision = decision

    async def decide(self, outcome: ConsentOutcome, decided_by: DecidedBy, actor: Actor, token: str) -> bool:
        """Offer a decision; True when it was the one applied (False: another got there first)."""
        task = self._task
        assert task is not None
        if self._handle is None:  # (patches.CHILD_AFTER_ANSWER) the child is still starting
            await workflow.wait_condition(lambda: self._handle is not None or task.done())
        handle = self._handle
        if handle is None:  # it never started: the request lapsed
            return False
        try:
            await handle.signal(
                CancellationConsentWorkflow.decide,
                ConsentDecision(outcome=outcome, decided_by=decided_by, actor=actor, token=token),
            )
        except FailureError:
            pass  # the consent workflow already closed: another decision won
        await workflow.wait_condition(task.done)
        return self._last_decision is not None and self._last_decision.token == token

    async def decide_first(
        self,
        outcome: ConsentOutcome,
        decided_by: DecidedBy,
        actor: Actor,
        token: str,
        cancellation_status: Callable[[], str],
    ) -> None:
        """Offer a decision; refuse it (``no_cancellation_pending``) when another decision (the parent's
        tap, the timer, someone else) got there first."""
        if await self.decide(outcome, decided_by, actor, token):
            return
        winner = self._last_decision
        raise ApplicationError(
            "The cancellation request was already decided"
            + (f": {winner.outcome} by {winner.decided_by.value}." if winner else "."),
            {"cancellation_status": cancellation_status()},
            type=ErrorCode.NO_CANCELLATION_PENDING,
            non_retryable=True,
        )

    @property
    def last_decision(self) -> ConsentDecision | None:
        return self._last_decision
