"""Reading sessions and sending actions to their workflows (update-with-start)."""

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, FailureError

from coach_sessions.actions import Actor
from coach_sessions.auth import Principal
from coach_sessions.errors import KNOWN_CODES, DomainError, ErrorCode, NotFound
from coach_sessions.models import SessionRecord, SessionView
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.scheduling import local_datetime
from coach_sessions.statuses import TERMINAL_STATUSES, CancellationStatus
from coach_sessions.temporal import session_workflow_id
from workflows.inputs import SessionWorkflowInput
from workflows.session import SessionWorkflow

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SessionService:
    def __init__(
        self,
        sessions: SessionRepository,
        people: PeopleRepository,
        temporal: Client,
        task_queue: str,
        clock: Clock = utc_now,
    ) -> None:
        self._sessions = sessions
        self._people = people
        self._temporal = temporal
        self._task_queue = task_queue
        self._clock = clock

    # ----- reads -------------------------------------------------------------------------------

    def view(self, record: SessionRecord) -> SessionView:
        return SessionView.of(record, self._clock())

    async def visible_session(self, principal: Principal, session_id: UUID) -> SessionRecord:
        """The session if this caller may see it; otherwise the same 404 as a missing one."""
        record = await self._sessions.get(session_id)
        if record is None or (not principal.is_admin and record.coach_id != principal.id):
            raise NotFound()
        return record

    async def get(self, principal: Principal, session_id: UUID) -> SessionView:
        return self.view(await self.visible_session(principal, session_id))

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

    async def act(
        self,
        principal: Principal,
        session_id: UUID,
        update: Any,
        argument: Any,
        *,
        needs_pending_cancellation: bool = False,
    ) -> SessionView:
        """Send one action (a workflow update) to the session's workflow, starting it if needed."""
        record = await self.visible_session(principal, session_id)
        return await self.send(record, update, argument, needs_pending_cancellation=needs_pending_cancellation)

    async def send(
        self, record: SessionRecord, update: Any, argument: Any, *, needs_pending_cancellation: bool = False
    ) -> SessionView:
        """``act`` for a session the caller has already read (and may see)."""
        session_id = record.id
        if needs_pending_cancellation and record.cancellation_status != CancellationStatus.PENDING:
            raise DomainError(
                ErrorCode.NO_CANCELLATION_PENDING,
                f"Session {record.session_number} has no cancellation request awaiting an answer.",
                cancellation_status=record.cancellation_status,
            )
        if record.status in TERMINAL_STATUSES:
            # Known without asking the workflow (which may have finished): same answer it would give.
            raise DomainError(
                ErrorCode.INVALID_STATUS,
                f"Session {record.session_number} is {record.status}; this action is not possible.",
                current_status=record.status,
            )
        start = WithStartWorkflowOperation(
            SessionWorkflow.run,
            SessionWorkflowInput(session_id=session_id),
            id=session_workflow_id(session_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        try:
            updated: SessionRecord = await self._temporal.execute_update_with_start_workflow(
                update, argument, start_workflow_operation=start
            )
        except WorkflowUpdateFailedError as error:
            raise _as_domain_error(error) from error
        return self.view(updated)

    async def coach_local_time(self, record: SessionRecord, day: date, at: time) -> datetime:
        """A date and time as the session's coach reads them; must lie in the future."""
        coach = await self._people.get_coach(record.coach_id)
        assert coach is not None  # FK
        when = local_datetime(day, at.replace(tzinfo=None), coach.timezone)
        if when <= self._clock():
            raise DomainError(
                ErrorCode.TIME_IN_PAST,
                f"The new time ({when.isoformat()}, {coach.timezone}) must be in the future.",
            )
        return when

    @staticmethod
    def actor(principal: Principal) -> Actor:
        return Actor(id=principal.id, role=principal.role.value)


def _as_domain_error(error: WorkflowUpdateFailedError) -> Exception:
    cause: BaseException | None = error.cause
    while isinstance(cause, FailureError) and not isinstance(cause, ApplicationError):
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type is not None and cause.type in KNOWN_CODES:
        extra = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        return DomainError(cause.type, cause.message, **extra)
    return error
