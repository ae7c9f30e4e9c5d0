"""Enrolling a child: the enrollment and its numbered sessions in one transaction, then the
EnrollmentWorkflow starts one SessionWorkflow per session (durable: it runs when a worker is there)."""

from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from coach_sessions.contracts import EnrollmentWorkflowInput
from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.models import Enrollment, SessionRecord
from coach_sessions.repositories.enrollments import EnrollmentRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.temporal import enrollment_workflow_id
from workflows.enrollment import EnrollmentWorkflow

# What makes a repeated enrollment "the same one" (besides the child and the coach).
_SAME_PLAN = ("start_date", "session_time", "weekdays", "session_count", "duration_minutes")


class EnrollmentService:
    def __init__(
        self,
        enrollments: EnrollmentRepository,
        sessions: SessionRepository,
        temporal: Client,
        task_queue: str,
    ) -> None:
        self._enrollments = enrollments
        self._sessions = sessions
        self._temporal = temporal
        self._task_queue = task_queue

    async def enroll(
        self,
        *,
        child_id: UUID,
        coach_id: UUID,
        start_date: date,
        session_time: time,
        weekdays: list[str],
        session_count: int,
        duration_minutes: int,
    ) -> tuple[Enrollment, list[SessionRecord], bool]:
        """Enroll (``created`` True) or answer the same active enrollment posted before (False).

        A different plan while the child has an active enrollment with this coach is refused.
        """
        plan: dict[str, Any] = {
            "start_date": start_date,
            "session_time": session_time,
            "weekdays": weekdays,
            "session_count": session_count,
            "duration_minutes": duration_minutes,
        }
        try:
            enrollment, created = await self._enrollments.create_with_sessions(
                child_id=child_id, coach_id=coach_id, now=datetime.now(UTC), **plan
            )
        except (OverflowError, ValueError) as error:  # a plan running past the calendar's end
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, f"The sessions of this plan cannot be scheduled: {error}."
            ) from error
        if not created and any(getattr(enrollment, field) != plan[field] for field in _SAME_PLAN):
            raise DomainError(
                ErrorCode.ENROLLMENT_EXISTS,
                "The child already has an active enrollment with this coach.",
                enrollment_id=str(enrollment.id),
            )
        # Starting is idempotent (same id; a repeat joins the running workflow). It needs Temporal,
        # not a worker: the session workflows start as soon as a worker polls.
        await self._temporal.start_workflow(
            EnrollmentWorkflow.run,
            EnrollmentWorkflowInput(enrollment_id=enrollment.id),
            id=enrollment_workflow_id(enrollment.id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        records = await self._sessions.list_for_child(child_id, None)
        return enrollment, [r for r in records if r.enrollment_id == enrollment.id], created
