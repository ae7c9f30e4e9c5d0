"""Reading sessions, and the seven session actions as named verbs.

Each action is one Temporal update sent to the session's workflow with update-with-start (the
workflow is started if it is not running). The routes call these verbs and never see Temporal.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, TypeVar
from uuid import UUID

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.workflow import UpdateMethodMultiParam

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
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.scheduling import local_datetime
from coach_sessions.statuses import TERMINAL_STATUSES, CancellationStatus
from coach_sessions.temporal import session_workflow_id
from workflows.session import SessionWorkflow

Clock = Callable[[], datetime]
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
        *,
        consent_window: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._sessions = sessions
        self._people = people
        self._temporal = temporal
        self._task_queue = task_queue
        self._consent_window = consent_window
        self._clock = clock

    # ----- reads -------------------------------------------------------------------------------

    def view(self, record: SessionRecord) -> SessionView:
        return SessionView.of(record, self._clock())

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

    async def complete(self, principal: Principal, session_id: UUID, *, notes: str | None) -> SessionView:
        record = await self._visible_session(principal, session_id)
        return await self._update(record, SessionWorkflow.complete, CompleteInput(actor=_actor(principal), notes=notes))

    async def mark_missed(
        self, principal: Principal, session_id: UUID, *, notify_parent: bool, notes: str | None
    ) -> SessionView:
        record = await self._visible_session(principal, session_id)
        argument = MarkMissedInput(actor=_actor(principal), notify_parent=notify_parent, notes=notes)
        return await self._update(record, SessionWorkflow.mark_missed, argument)

    async def reschedule(
        self, principal: Principal, session_id: UUID, *, new_date: date, new_time: time, reason: str | None
    ) -> SessionView:
        """Move the session to a date and time read in its coach's timezone (must be in the future)."""
        record = await self._visible_session(principal, session_id)
        new_at = await self._coach_local_time(record, new_date, new_time)
        argument = RescheduleInput(actor=_actor(principal), new_scheduled_at=new_at, reason=reason)
        return await self._update(record, SessionWorkflow.reschedule, argument)

    async def cancel(self, principal: Principal, session_id: UUID, *, reason: str) -> SessionView:
        """An admin's cancellation. Coaches cancel through the parent's consent (request_cancellation)."""
        record = await self._visible_session(principal, session_id)
        if not principal.is_admin:
            raise DomainError(
                ErrorCode.PARENT_CONSENT_REQUIRED,
                "Coaches cancel with the parent's consent: POST /api/sessions/request-cancel.",
            )
        return await self._update(record, SessionWorkflow.cancel, CancelInput(actor=_actor(principal), reason=reason))

    async def request_cancellation(self, principal: Principal, session_id: UUID, *, reason: str) -> SessionView:
        """The coach asks the parent; no answer within the consent window approves it."""
        if principal.is_admin:
            raise DomainError(
                ErrorCode.FORBIDDEN, "Admins cancel directly (DELETE /api/sessions); this is the coach's flow."
            )
        record = await self._visible_session(principal, session_id)
        argument = RequestCancellationInput(
            actor=_actor(principal), reason=reason, auto_approve_after=self._consent_window
        )
        return await self._update(record, SessionWorkflow.request_cancellation, argument)

    async def withdraw_cancellation(self, principal: Principal, session_id: UUID) -> SessionView:
        record = await self._visible_session(principal, session_id)
        _require_pending_cancellation(record)
        argument = WithdrawCancellationInput(actor=_actor(principal))
        return await self._update(record, SessionWorkflow.withdraw_cancellation, argument)

    async def decide_cancellation(
        self, principal: Principal, session_id: UUID, *, decision: Literal["approve", "reject"]
    ) -> SessionView:
        record = await self._visible_session(principal, session_id)
        _require_pending_cancellation(record)
        argument = DecideCancellationInput(actor=_actor(principal), decision=decision)
        return await self._update(record, SessionWorkflow.decide_cancellation, argument)

    # ----- machinery ---------------------------------------------------------------------------

    async def _visible_session(self, principal: Principal, session_id: UUID) -> SessionRecord:
        """The session if this caller may see it; otherwise the same 404 as a missing one."""
        record = await self._sessions.get(session_id)
        if record is None or (not principal.is_admin and record.coach_id != principal.id):
            raise NotFound()
        return record

    async def _update(
        self, record: SessionRecord, update: SessionUpdate[UpdateInput], argument: UpdateInput
    ) -> SessionView:
        """Send one update to the session's workflow, starting the workflow if it is not running."""
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
            updated = await self._temporal.execute_update_with_start_workflow(
                update, argument, start_workflow_operation=start
            )
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


def _as_domain_error(error: WorkflowUpdateFailedError) -> Exception:
    cause: BaseException | None = error.cause
    while isinstance(cause, FailureError) and not isinstance(cause, ApplicationError):
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type is not None and cause.type in KNOWN_CODES:
        extra = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        return DomainError(cause.type, cause.message, **extra)
    return error
