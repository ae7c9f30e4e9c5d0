"""Demo data for `make run`: two coaches, three families, enrollments with past and future sessions."""

from datetime import UTC, date, datetime, timedelta

import asyncpg
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from coach_sessions.repositories.enrollments import EnrollmentRepository
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.temporal import enrollment_workflow_id
from devtools.demo_data import COACH_TIMEZONE, COACHES, DEMO_ADMIN_ID, DEMO_COACH_EMAILS, FAMILIES
from devtools.demo_learning import seed_learning_events
from devtools.demo_progress import seed_progress

__all__ = ["DEMO_ADMIN_ID", "DEMO_COACH_EMAILS", "seed_demo"]  # the CLI imports the first two from here


async def seed_demo(pool: asyncpg.Pool, temporal: Client, task_queue: str) -> dict[str, object]:
    """Create the demo data once; on later runs only make sure every enrollment workflow exists."""
    from coach_sessions.contracts import EnrollmentWorkflowInput
    from workflows.enrollment import EnrollmentWorkflow

    people = PeopleRepository(pool)
    enrollments = EnrollmentRepository(pool)
    existing = await people.find_coach_by_email(DEMO_COACH_EMAILS[0])
    if existing is None:
        coaches = [
            await people.create_coach(name=name, email=email, phone=phone, calendar_id=email, timezone=COACH_TIMEZONE)
            for name, email, phone in COACHES
        ]
        today = datetime.now(UTC).date()
        for family in FAMILIES:
            parent = await people.create_parent(name=family.parent, phone=family.phone, email=None)
            child = await people.create_child(
                name=family.child, age=family.age, parent_id=parent.id, coach_id=coaches[family.coach].id
            )
            await enrollments.create(
                child_id=child.id,
                coach_id=coaches[family.coach].id,
                start_date=_monday_weeks_ago(today, family.weeks_ago),
                session_time=family.session_time,
                weekdays=list(family.weekdays),
                session_count=family.sessions,
                duration_minutes=45,
            )
    coach_ids = []
    for email in DEMO_COACH_EMAILS:
        coach = await people.find_coach_by_email(email)
        assert coach is not None
        coach_ids.append(coach.id)
    enrollment_ids = await enrollments.list_ids_for_coaches(coach_ids)
    for enrollment_id in enrollment_ids:
        # Idempotent: an existing (running or finished) workflow with this id is left alone.
        try:
            await temporal.start_workflow(
                EnrollmentWorkflow.run,
                EnrollmentWorkflowInput(enrollment_id=enrollment_id),
                id=enrollment_workflow_id(enrollment_id),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass
    # Idempotent: children that already have scores / notes are left alone.
    await seed_progress(pool, datetime.now(UTC))
    await seed_learning_events(pool, datetime.now(UTC))
    return {
        "coach_ids": [str(c) for c in coach_ids],
        "enrollment_ids": [str(e) for e in enrollment_ids],
        "created": existing is None,
    }


def _monday_weeks_ago(today: date, weeks: int) -> date:
    return today - timedelta(days=today.weekday()) - timedelta(weeks=weeks)
