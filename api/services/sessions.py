"""Reading sessions, and the seven session actions as named verbs.

Each action is one Temporal update sent to the session's workflow with update-with-start (the
workflow is started if it is not running). The routes call these verbs and never see Temporal.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, TypeVar
from uuid import UUID, uuid4

from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.workflow import UpdateMethodMultiParam

from api.services.idempotency import KeyedOutcomes
from coach_sessions.auth import Principal
from coach_sessions.contracts import (
    Actor,
    CancelInput,
    CompleteInput,
    DecideCancellationInput,
    MarkMissedInput,
    RequestCancellationInput,
    RescheduleInput,
    SessionWorkflowInput,
    WithdrawCancellationInput,
)
from coach_sessions.errors import KNOWN_CODES, DomainError, ErrorCode, NotFound
from coach_sessions.models import SessionRecord, SessionView
from coach_sessions.repositories.idempotency import IdempotencyRepository
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.scheduling import local_datetime
from coach_sessions.statuses import TERMINAL_STATUSES, CancellationStatus
from coach_sessions.temporal import session_workflow_id
from workflows.session import SessionWorkflow

log = logging.getLogger("coach_sessions.api")

Clock = Callable[[], datetime]
DEADLINE_MARGIN = timedelta(seconds=1)
RETRY_AFTER_SECONDS = 5
UpdateInput = TypeVar("UpdateInput")
# A SessionWorkflow update method: mypy checks each verb's argument against the update it sends.
SessionUpdate = UpdateMethodMultiParam[[SessionWorkflow, UpdateInput], SessionRecord]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SessionService:
    def __init__(
        self,
        sessions: SessionRepository,
        people: PeopleRepository,
        temporal: Client,
        task_queue: str,
        idempotency: IdempotencyRepository,
        *,
        consent_window: timedelta,
        answer_within: timedelta,
        minimum_notice: timedelta = timedelta(0),
        clock: Clock = utc_now,
    ) -> None:
        self._minimum_notice = minimum_notice  # COACH_MIN_NOTICE: applied by the transition rules
        self._keys = KeyedOutcomes(idempotency)
        self._answer_within = answer_within
        self._sessions = sessions
        self._people = people
        self._temporal = temporal
        self._task_queue = task_queue
        self._consent_window = consent_window
        self._clock = clock

    # ----- reads -------------------------------------------------------------------------------

    def view(self, record: SessionRecord) -> SessionView:
        return SessionView.of(record, self._clock(), self._minimum_notice)

    async def get(self, principal: Principal, session_id: UUID) -> SessionView:
        return self.view(await self._visible_session(principal, session_id))

    async def list_for_child(self, principal: Principal, child_id: UUID) -> list[SessionView]:
        """The child's sessions this caller may see. A coach not (or no longer) the child's coach
        sees only the sessions they ran, and gets 404 when there are none."""
        child = await self._people.get_child(child_id)
        if child is None:
            raise NotFound("child", ErrorCode.NOT_FOUND)
        scope = principal.coach_scope()
        records = await self._sessions.list_for_child(child_id, scope)
        if not records and scope is not None and child.coach_id != scope:
            raise NotFound("child", ErrorCode.NOT_FOUND)
        return [self.view(r) for r in records]

    # ----- actions -----------------------------------------------------------------------------
    # Each verb may carry the caller's Idempotency-Key: a retry with the same key gets the first
    # outcome (see ``_once``), never a refusal caused by its own earlier success.

    async def complete(
        self, principal: Principal, session_id: UUID, *, notes: str | None, idempotency_key: str | None = None
    ) -> SessionView:
        async def send(record: SessionRecord, key_id: str | None) -> SessionView:
            argument = CompleteInput(actor=_actor(principal), notes=notes, **self._stamp(key_id))
            return await self._update(record, SessionWorkflow.complete, argument, key_id)

        return await self._once(principal, session_id, "complete", {"notes": notes}, idempotency_key, send)

    async def mark_missed(
        self,
        principal: Principal,
        session_id: UUID,
        *,
        notify_parent: bool,
        notes: str | None,
        idempotency_key: str | None = None,
    ) -> SessionView:
        async def send(record: SessionRecord, key_id: str | None) -> SessionView:
            argument = MarkMissedInput(
                actor=_actor(principal),
                notify_parent=notify_parent,
                notes=notes,
                deadline=self._deadline(),
                request_id=key_id,
            )
            return await self._update(record, SessionWorkflow.mark_missed, argument, key_id)

        arguments = {"notify_parent": notify_parent, "notes": notes}
        return await self._once(principal, session_id, "mark_missed", arguments, idempotency_key, send)

    async def reschedule(
        self,
        principal: Principal,
        session_id: UUID,
        *,
        new_date: date,
        new_time: time,
        reason: str | None,
        idempotency_key: str | None = None,
    ) -> SessionView:
        """Move the session to a date and time read in its coach's timezone (must be in the future)."""

        async def send(record: SessionRecord, key_id: str | None) -> SessionView:
            new_at = await self._coach_local_time(record, new_date, new_time)
            argument = RescheduleInput(
                actor=_actor(principal),
                new_scheduled_at=new_at,
                reason=reason,
                deadline=self._deadline(),
                minimum_notice=self._minimum_notice,
                request_id=key_id,
            )
            return await self._update(record, SessionWorkflow.reschedule, argument, key_id)

        arguments = {"new_date": new_date, "new_time": new_time, "reason": reason}
        return await self._once(principal, session_id, "reschedule", arguments, idempotency_key, send)

    async def cancel(
        self, principal: Principal, session_id: UUID, *, reason: str, idempotency_key: str | None = None
    ) -> SessionView:
        """An admin's cancellation. Coaches cancel through the parent's consent (request_cancellation)."""

        async def send(record: SessionRecord, key_id: str | None) -> SessionView:
            if not principal.is_admin:
                raise DomainError(
                    ErrorCode.PARENT_CONSENT_REQUIRED,
                    "Coaches cancel with the parent's consent: POST /api/sessions/request-cancel.",
                )
            argument = CancelInput(actor=_actor(principal), reason=reason, **self._stamp(key_id))
            return await self._update(record, SessionWorkflow.cancel, argument, key_id)

        return await self._once(principal, session_id, "cancel", {"reason": reason}, idempotency_key, send)

    async def request_cancellation(
        self, principal: Principal, session_id: UUID, *, reason: str, idempotency_key: str | None = None
    ) -> SessionView:
        """The coach asks the parent; no answer within the consent window approves it."""
        if principal.is_admin:
            raise DomainError(
                ErrorCode.FORBIDDEN, "Admins cancel directly (DELETE /api/sessions); this is the coach's flow."
            )

        async def send(record: SessionRecord, key_id: str | None) -> SessionView:
            argument = RequestCancellationInput(
                actor=_actor(principal),
                reason=reason,
                auto_approve_after=self._consent_window,
                deadline=self._deadline(),
                minimum_notice=self._minimum_notice,
                request_id=key_id,
            )
            return await self._update(record, SessionWorkflow.request_cancellation, argument, key_id)

        arguments = {"reason": reason}
        return await self._once(principal, session_id, "request_cancellation", arguments, idempotency_key, send)

    async def withdraw_cancellation(
        self, principal: Principal, session_id: UUID, *, idempotency_key: str | None = None
    ) -> SessionView:
        async def send(record: SessionRecord, key_id: str | None) -> SessionView:
            _require_pending_cancellation(record)
            argument = WithdrawCancellationInput(actor=_actor(principal), **self._stamp(key_id))
            return await self._update(record, SessionWorkflow.withdraw_cancellation, argument, key_id)

        return await self._once(principal, session_id, "withdraw_cancellation", {}, idempotency_key, send)

    async def decide_cancellation(
        self,
        principal: Principal,
        session_id: UUID,
        *,
        decision: Literal["approve", "reject"],
        idempotency_key: str | None = None,
    ) -> SessionView:
        async def send(record: SessionRecord, key_id: str | None) -> SessionView:
            _require_pending_cancellation(record)
            argument = DecideCancellationInput(actor=_actor(principal), decision=decision, **self._stamp(key_id))
            return await self._update(record, SessionWorkflow.decide_cancellation, argument, key_id)

        arguments = {"decision": decision}
        return await self._once(principal, session_id, "decide_cancellation", arguments, idempotency_key, send)

    # ----- machinery ---------------------------------------------------------------------------

    async def _visible_session(self, principal: Principal, session_id: UUID) -> SessionRecord:
        """The session if this caller may see it; otherwise the same 404 as a missing one."""
        record = await self._sessions.get(session_id)
        if record is None or (not principal.is_admin and record.coach_id != principal.id):
            raise NotFound()
        return record

    async def _once(
        self,
        principal: Principal,
        session_id: UUID,
        action: str,
        arguments: dict[str, Any],
        key: str | None,
        send: Callable[[SessionRecord, str | None], Awaitable[SessionView]],
    ) -> SessionView:
        """Run an action; with an Idempotency-Key, at most once per caller and key.

        The key becomes the Temporal update id, which is also the transition's idempotency key in
        Postgres: an earlier attempt that committed (even one whose caller got 503) is found and
        answered, and its outcome is kept for later retries. Unavailability is never kept.
        """
        if key is None:
            return await send(await self._visible_session(principal, session_id), None)
        fingerprint = self._keys.fingerprint(action, session_id, arguments)
        if (first := await self._keys.first_outcome(principal.id, key, fingerprint)) is not None:
            return first
        record = await self._visible_session(principal, session_id)
        key_id = self._keys.request_id(principal.id, key)
        try:
            if await self._sessions.transition_committed(session_id, key_id):
                view = self.view(record)  # an earlier attempt committed: it is the answer
            else:
                view = await send(record, key_id)
        except DomainError as error:
            await self._keys.keep_refusal(principal.id, key, fingerprint, error)
            raise
        await self._keys.keep_view(principal.id, key, fingerprint, view)
        return view

    def _stamp(self, key_id: str | None) -> dict[str, Any]:
        """What every update carries: its deadline and, with an Idempotency-Key, the key's request id."""
        return {"deadline": self._deadline(), "request_id": key_id}

    def _deadline(self) -> datetime:
        """When the action stops being wanted: a little before this API stops waiting for it, so a
        worker whose clock runs a little ahead cannot apply it after the caller had a 503."""
        return self._clock() + self._answer_within - min(DEADLINE_MARGIN, self._answer_within / 5)

    async def _update(
        self,
        record: SessionRecord,
        update: SessionUpdate[UpdateInput],
        argument: UpdateInput,
        key_id: str | None = None,
    ) -> SessionView:
        """Send one update to the session's workflow, starting the workflow if it is not running.

        With a key, every attempt is its own update (a repeated update id would get the first
        attempt's answer back from Temporal, a refusal included) carrying the key's request id."""
        update_id = f"{key_id}-{uuid4().hex[:12]}" if key_id else None
        if record.status in TERMINAL_STATUSES:
            # Known without asking the workflow (which may have finished): same answer it would give.
            raise DomainError(
                ErrorCode.INVALID_STATUS,
                f"Session {record.session_number} is {record.status}; this action is not possible.",
                current_status=record.status,
            )
        start = WithStartWorkflowOperation(
            SessionWorkflow.run,
            SessionWorkflowInput(session_id=record.id),
            id=session_workflow_id(record.id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        try:
            updated = await asyncio.wait_for(
                self._temporal.execute_update_with_start_workflow(
                    update, argument, start_workflow_operation=start, id=update_id
                ),
                self._answer_within.total_seconds(),
            )
        except (TimeoutError, RPCTimeoutOrCancelledError) as error:
            # (Cancelled by the bound, the client raises its own RPCTimeoutOrCancelledError.)
            raise DomainError(
                ErrorCode.TEMPORARILY_UNAVAILABLE,
                "The session service did not answer in time; the action was not applied. Retry it.",
                retry_after=RETRY_AFTER_SECONDS,
            ) from error
        except WorkflowUpdateFailedError as error:
            raise _as_domain_error(error) from error
        return self.view(updated)

    async def _coach_local_time(self, record: SessionRecord, day: date, at: time) -> datetime:
        coach = await self._people.get_coach(record.coach_id)
        assert coach is not None  # FK
        when = local_datetime(day, at.replace(tzinfo=None), coach.timezone)
        if when <= self._clock():
            raise DomainError(
                ErrorCode.TIME_IN_PAST,
                f"The new time ({when.isoformat()}, {coach.timezone}) must be in the future.",
            )
        return when


def _actor(principal: Principal) -> Actor:
    return Actor(id=principal.id, role=principal.role.value)


def _require_pending_cancellation(record: SessionRecord) -> None:
    if record.cancellation_status != CancellationStatus.PENDING:
        raise DomainError(
            ErrorCode.NO_CANCELLATION_PENDING,
            f"Session {record.session_number} has no cancellation request awaiting an answer.",
            cancellation_status=record.cancellation_status,
        )


def _as_domain_error(error: WorkflowUpdateFailedError) -> DomainError:
    """A business refusal keeps its code; anything else (an activity that could not reach a
    dependency, a workflow that failed) is the service being unavailable, not the caller's fault."""
    cause: BaseException | None = error.cause
    while isinstance(cause, FailureError) and not isinstance(cause, ApplicationError):
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type is not None and cause.type in KNOWN_CODES:
        extra = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        return DomainError(cause.type, cause.message, **extra)
    log.error("session update failed", extra={"error": repr(error), "cause": repr(error.cause)})
    return DomainError(
        ErrorCode.TEMPORARILY_UNAVAILABLE,
        "The session service could not complete the action; retry it.",
        retry_after=RETRY_AFTER_SECONDS,
    )
