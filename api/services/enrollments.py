"""Enrolling a child: the enrollment and its numbered sessions in one transaction, then the
EnrollmentWorkflow starts one SessionWorkflow per session (durable: it runs when a worker is there)."""

from datetime import UTC, datetime
from uuid import UUID

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from api.services.reconciler import WorkflowReconciler
from coach_sessions.contracts import EnrollmentWorkflowInput
from coach_sessions.errors import DomainError, ErrorCode, NotFound
from coach_sessions.models import Enrollment, EnrollmentPlan, SessionRecord
from coach_sessions.repositories.enrollment_end import AlreadyEnded, EnrollmentEnding, EnrollmentEndRepository
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
        ending: EnrollmentEndRepository,
        reconciler: WorkflowReconciler,
    ) -> None:
        self._ending = ending
        self._reconciler = reconciler
        self._reconciliations = reconciliations
        self._enrollments = enrollments
        self._sessions = sessions
        self._temporal = temporal
        self._task_queue = task_queue

    async def for_child(self, child_id: UUID) -> list[Enrollment]:
        return await self._enrollments.for_child(child_id)

    async def end_early(self, admin_id: UUID, enrollment_id: UUID, reason: str) -> EnrollmentEnding:
        """End the enrolment (the family leaves): one transaction (coach_sessions/repositories/
        enrollment_end.py), then its sessions' workflows and the parent's message at once; whatever
        Temporal does not take now, the reconciler does. The same request again answers the same ending."""
        try:
            ending = await self._ending.end(enrollment_id, ended_by=admin_id, reason=reason)
        except AlreadyEnded:
            raise DomainError(
                ErrorCode.CONFLICT, "This enrolment is over already: every session was resolved."
            ) from None
        if ending is None:
            raise NotFound("enrollment", ErrorCode.NOT_FOUND)
        if ending.created:
            await self._reconciler.reconcile_now("session", ending.cancelled_session_ids)
            if ending.message_id is not None:
                await self._reconciler.reconcile_now("message", [ending.message_id])
        return ending

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
