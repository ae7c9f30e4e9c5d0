"""Enrolling a child: the enrollment row, then its EnrollmentWorkflow creates and starts the sessions."""

import asyncio
from datetime import date, time, timedelta
from uuid import UUID

from temporalio.client import Client

from coach_sessions.contracts import EnrollmentWorkflowInput
from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.models import Enrollment, SessionRecord
from coach_sessions.repositories.enrollments import EnrollmentRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.temporal import enrollment_workflow_id
from workflows.enrollment import EnrollmentWorkflow

ANSWER_WITHIN = timedelta(seconds=30)


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
    ) -> tuple[Enrollment, list[SessionRecord]]:
        enrollment = await self._enrollments.create(
            child_id=child_id,
            coach_id=coach_id,
            start_date=start_date,
            session_time=session_time,
            weekdays=weekdays,
            session_count=session_count,
            duration_minutes=duration_minutes,
        )
        handle = await self._temporal.start_workflow(
            EnrollmentWorkflow.run,
            EnrollmentWorkflowInput(enrollment_id=enrollment.id),
            id=enrollment_workflow_id(enrollment.id),
            task_queue=self._task_queue,
        )
        try:
            await asyncio.wait_for(handle.result(), ANSWER_WITHIN.total_seconds())
        except TimeoutError as error:
            # The workflow is durable and will finish when a worker is back; the caller can poll.
            raise DomainError(
                ErrorCode.SERVICE_UNAVAILABLE,
                "The enrollment is recorded but its sessions are not created yet (no worker?).",
                enrollment_id=str(enrollment.id),
            ) from error
        records = await self._sessions.list_for_child(child_id, None)
        return enrollment, [r for r in records if r.enrollment_id == enrollment.id]
