"""Enrolling a child: the enrollment and its numbered sessions in one transaction, then the
EnrollmentWorkflow starts one SessionWorkflow per session (durable: it runs when a worker is there)."""

from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from coach_sessions.contracts import EnrollmentWorkflowInput
from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.models import Enrollment, EnrollmentPlan, SessionRecord
from coach_sessions.repositories.enrollments import EnrollmentRepository
from coach_sessions.repositories.reconciliations import ReconciliationRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.temporal import enrollment_workflow_id
from workflows.enrollment import EnrollmentWorkflow


class EnrollmentService:
    def __init__(
        self,
        enrollments: EnrollmentRepository,
        sessions: SessionRepository,
        temporal: Client,
        task_queue: str,
        reconciliations: ReconciliationRepository,
    ) -> None:
        self._reconciliations = reconciliations
        self._enrollments = enrollments
        self._sessions = sessions
        self._temporal = temporal
        self._task_queue = task_queue

    async def enroll(self, plan: EnrollmentPlan) -> tuple[Enrollment, list[SessionRecord], bool]:
        """Enroll (``created`` True) or answer the same active enrollment posted before (False).

        A different plan while the child has an active enrollment with this coach is refused.
        """
        try:
            enrollment, created = await self._enrollments.create_with_sessions(plan, now=datetime.now(UTC))
        except (OverflowError, ValueError) as error:  # a plan running past the calendar's end
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, f"The sessions of this plan cannot be scheduled: {error}."
            ) from error
        if not created and EnrollmentPlan.of(enrollment) != plan:
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
        await self._reconciliations.forget("enrollment", enrollment.id)  # started: nothing to reconcile
        records = await self._sessions.list_for_child(plan.child_id, None)
        return enrollment, [r for r in records if r.enrollment_id == enrollment.id], created
