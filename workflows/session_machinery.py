"""Small pieces of machinery the SessionWorkflow is built from (each one job, no business rules).

In the manner of Temporal's ``updatable_timer_lib`` sample: the workflow class reads as the
lifecycle; how background work is tracked, how calendar syncs coalesce and how the consent child is
run live here.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from uuid import UUID

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, FailureError

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import Actor, ConsentDecision, ConsentInput, ConsentOutcome
    from coach_sessions.models import SessionRecord
    from coach_sessions.statuses import DecidedBy
    from workflows import steps
    from workflows.consent import CancellationConsentWorkflow


def request_id() -> str:
    """The id that makes a transition idempotent: the current update's id (stable across retries)."""
    update = workflow.current_update_info()
    return update.id if update else str(workflow.uuid4())


def validate_with(update: Any, check: Callable[[Any], None]) -> None:
    """Register ``check(workflow)`` as the validator of ``update``: one rule shared by several updates.

    Temporal wants a validator with its update's exact signature, so each gets a thin copy.
    """

    def validator(self: Any, *args: Any) -> None:
        check(self)

    validator.__signature__ = inspect.signature(update)  # type: ignore[attr-defined]
    update.validator(validator)


class BackgroundTasks:
    """Side effects that run after the caller has its answer; the workflow ends only after all of them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any]":
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def idle(self) -> bool:
        return not self._tasks

    def idle_except(self, *waiting: "asyncio.Task[Any] | None") -> bool:
        """Nothing running but the given long-lived waits (a timer that a next run re-arms)."""
        return not (self._tasks - set(waiting))


class CalendarSync:
    """Coalesces calendar syncs: at most one runs; a change during it triggers one more pass."""

    def __init__(self, tasks: BackgroundTasks, session_id: Callable[[], UUID]) -> None:
        self._tasks = tasks
        self._session_id = session_id
        self._dirty = False
        self._task: asyncio.Task[Any] | None = None

    def request(self) -> None:
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = self._tasks.spawn(self._loop())

    async def _loop(self) -> None:
        while self._dirty:
            self._dirty = False
            await steps.sync_calendar(self._session_id())


# The consent request message is delivered by the session workflow, not by the consent child.
REQUEST_SENT_BY_SESSION_PATCH = "consent-request-sent-by-session"
# A failed consent child withdraws the request (decided by "system"): see ConsentChild._await_decision.
CONSENT_FAILURE_PATCH = "consent-child-failure-withdraws"

ConsentHandle = workflow.ChildWorkflowHandle[CancellationConsentWorkflow, ConsentDecision]
# Applies the consent child's decision to the session (given the decision and its request id).
ApplyDecision = Callable[[ConsentDecision, str], Awaitable[None]]


class ConsentChild:
    """The cancellation-consent child workflow of one session: started, awaited, told our decisions."""

    def __init__(self, tasks: BackgroundTasks, apply_decision: ApplyDecision) -> None:
        self._tasks = tasks
        self._apply_decision = apply_decision
        self._handle: ConsentHandle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._last_decision: ConsentDecision | None = None

    @property
    def waiting(self) -> bool:
        return self._handle is not None

    async def start(self, session: SessionRecord, message_ids: list[UUID]) -> None:
        assert session.cancellation_expires_at is not None and session.consent_workflow_id is not None
        if workflow.patched(REQUEST_SENT_BY_SESSION_PATCH):
            # The parent's request goes out beside the child, so that a decision (a withdrawal, an
            # admin) never waits for a WhatsApp outage to end before it is applied.
            for message_id in message_ids:
                self._tasks.spawn(steps.deliver_message(message_id))
            message_ids = []
        self._handle = await workflow.start_child_workflow(
            CancellationConsentWorkflow.run,
            ConsentInput(
                session_id=session.id,
                request_message_ids=message_ids,
                expires_at=session.cancellation_expires_at,
            ),
            id=session.consent_workflow_id,
            static_summary=f"consent for session {session.session_number}",
        )
        self._task = self._tasks.spawn(self._await_decision(self._handle))

    async def _await_decision(self, handle: ConsentHandle) -> None:
        try:
            decision = await handle
        except ChildWorkflowError as error:
            if not workflow.patched(CONSENT_FAILURE_PATCH):
                raise
            # The consent process broke (a bug, a terminated child): the request lapses and the
            # session stands, rather than staying "pending" with nobody to answer it.
            workflow.logger.error("consent workflow failed", extra={"workflow_id": handle.id, "error": str(error)})
            decision = ConsentDecision(
                outcome="withdraw", decided_by=DecidedBy.SYSTEM, actor=Actor(id=None, role="system"), token="failed"
            )
        await self._apply_decision(decision, f"consent:{handle.id}")
        self._last_decision = decision
        self._handle = None

    async def decide(self, outcome: ConsentOutcome, decided_by: DecidedBy, actor: Actor, token: str) -> bool:
        """Offer a decision; True when it was the one applied (False: another got there first)."""
        handle, task = self._handle, self._task
        assert handle is not None and task is not None
        try:
            await handle.signal(
                CancellationConsentWorkflow.decide,
                ConsentDecision(outcome=outcome, decided_by=decided_by, actor=actor, token=token),
            )
        except FailureError:
            pass  # the consent workflow already closed: another decision won
        await workflow.wait_condition(task.done)
        return self._last_decision is not None and self._last_decision.token == token

    @property
    def last_decision(self) -> ConsentDecision | None:
        return self._last_decision
