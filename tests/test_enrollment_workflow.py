"""EnrollmentWorkflow: numbered sessions created once, one SessionWorkflow each."""

from datetime import UTC, datetime, time, timedelta
from uuid import UUID

import asyncpg
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from coach_sessions.contracts import CreateSessionsInput, EnrollmentWorkflowInput
from coach_sessions.models import EnrollmentPlan
from coach_sessions.repositories.enrollments import EnrollmentRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.temporal import CHILD_ID, SESSION_NUMBER, SESSION_STATUS, session_workflow_id
from tests.factories import make_family
from tests.helpers import eventually, running_worker
from workflows.enrollment import EnrollmentWorkflow


async def _enroll(pool: asyncpg.Pool, *, days_ago: int, count: int) -> tuple[object, UUID]:
    family = await make_family(pool)
    enrollment = await EnrollmentRepository(pool).create(
        EnrollmentPlan(
            child_id=family.child.id,
            coach_id=family.coach.id,
            start_date=(datetime.now(UTC) - timedelta(days=days_ago)).date(),
            session_time=time(10, 0),
            weekdays=["mon", "wed", "fri"],
            session_count=count,
            duration_minutes=45,
        )
    )
    return family, enrollment.id


async def test_enrollment_creates_sessions_and_starts_a_workflow_per_session(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    family, enrollment_id = await _enroll(pool, days_ago=14, count=9)
    async with running_worker(temporal_env.client, pool) as task_queue:
        result = await temporal_env.client.execute_workflow(
            EnrollmentWorkflow.run,
            EnrollmentWorkflowInput(enrollment_id=enrollment_id),
            id=f"enrollment-{enrollment_id}",
            task_queue=task_queue,
        )
        sessions = await SessionRepository(pool).list_for_child(family.child.id, None)  # type: ignore[attr-defined]
        assert [s.session_number for s in sessions] == list(range(1, 10))
        assert [s.id for s in sessions] == result.session_ids
        now = datetime.now(UTC)
        for s in sessions:  # an imported programme: what already ended awaits the coach
            ended = s.scheduled_at + timedelta(minutes=45) <= now
            assert s.status == ("pending" if ended else "scheduled")
        assert any(s.status == "pending" for s in sessions) and any(s.status == "scheduled" for s in sessions)

        for s in sessions:
            handle = temporal_env.client.get_workflow_handle(session_workflow_id(s.id))

            async def indexed(handle=handle, s=s) -> bool:  # type: ignore[no-untyped-def]
                desc = await handle.describe()
                attrs = desc.typed_search_attributes
                return (
                    desc.status == WorkflowExecutionStatus.RUNNING
                    and attrs.get(CHILD_ID) == str(family.child.id)  # type: ignore[attr-defined]
                    and attrs.get(SESSION_NUMBER) == s.session_number
                    and attrs.get(SESSION_STATUS) == s.status
                )

            await eventually(indexed)


async def test_retried_create_sessions_activity_creates_no_duplicates(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    _, enrollment_id = await _enroll(pool, days_ago=0, count=5)
    repo = EnrollmentRepository(pool)
    attempts: list[int] = []

    @activity.defn
    async def create_sessions(request: CreateSessionsInput) -> list[UUID]:
        ids = await repo.create_sessions(request.enrollment_id, request.now)
        attempts.append(activity.info().attempt)
        if activity.info().attempt == 1:
            raise RuntimeError("worker died after the insert committed")
        return ids

    async with running_worker(temporal_env.client, pool, replace_activities=[create_sessions]) as task_queue:
        result = await temporal_env.client.execute_workflow(
            EnrollmentWorkflow.run,
            EnrollmentWorkflowInput(enrollment_id=enrollment_id),
            id=f"enrollment-{enrollment_id}",
            task_queue=task_queue,
        )
    assert attempts == [1, 2]
    count = await pool.fetchval("SELECT count(*) FROM scheduled_sessions WHERE enrollment_id = $1", enrollment_id)
    assert count == 5
    assert len(set(result.session_ids)) == 5
