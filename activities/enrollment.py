"""Creating an enrollment's numbered sessions."""

from uuid import UUID

from temporalio import activity

from activities.errors import business_failures_are_final
from coach_sessions.contracts import CreateSessionsInput
from coach_sessions.repositories.enrollments import EnrollmentRepository


class EnrollmentActivities:
    def __init__(self, enrollments: EnrollmentRepository) -> None:
        self._enrollments = enrollments

    @activity.defn
    @business_failures_are_final
    async def create_sessions(self, request: CreateSessionsInput) -> list[UUID]:
        return await self._enrollments.create_sessions(request.enrollment_id, request.now)
