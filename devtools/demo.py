"""Demo data for `make run`: two coaches, three families, each a programme weeks under way.

Per demo child (``devtools.demo_data.FAMILIES``): the past sessions resolved (completed, one missed)
with the notes, scores and homework they produced, dated at those sessions; the last past session
still pending (it awaits the coach); the next one scheduled; the one after it with the coach's
cancellation request awaiting the parent; the rest scheduled.

    demo ──▶ demo_sessions, demo_learning, demo_progress, demo_workflows ──▶ demo_data

Idempotent: a second run finds everything made and changes nothing; a run stopped half-way is
completed by the next one (the history is planned from the enrollment's start date, fixed at its
creation, so a later run resolves the same sessions). Once an enrollment's workflow has started, its
sessions are its workflows' business: the seed leaves that enrollment as it is (a database seeded by
an older version of this seed keeps its data; `make clean-data` starts afresh).
"""

from datetime import UTC, datetime
from uuid import UUID

import asyncpg
from temporalio.client import Client

from coach_sessions.models import EnrollmentPlan
from coach_sessions.providers.calendar import CalendarProvider, build_calendar_provider
from coach_sessions.repositories.enrollments import EnrollmentRepository
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.repositories.principals import PrincipalRepository
from coach_sessions.settings import Settings, get_settings
from coach_sessions.temporal import enrollment_workflow_id
from devtools.demo_data import (
    CANCELLATION_REASONS,
    COACH_TIMEZONE,
    COACHES,
    DEMO_ADMIN,
    DEMO_ADMIN_ID,
    DEMO_COACH_EMAILS,
    FAMILIES,
    SESSION_MINUTES,
    Family,
)
from devtools.demo_learning import LESSONS, seed_learning_events
from devtools.demo_progress import seed_progress
from devtools.demo_sessions import seed_history, start_date
from devtools.demo_workflows import (
    cancellation_target,
    request_cancellations,
    start_enrollment_workflows,
    workflow_exists,
)

__all__ = ["DEMO_ADMIN_ID", "DEMO_COACH_EMAILS", "seed_demo"]  # the CLI imports these from here


async def seed_demo(
    pool: asyncpg.Pool,
    temporal: Client,
    task_queue: str,
    *,
    settings: Settings | None = None,
    calendar: CalendarProvider | None = None,
    now: datetime | None = None,
) -> dict[str, object]:
    """Create whatever of the demo is missing, then make sure every enrollment workflow exists."""
    settings = settings or get_settings()
    calendar = calendar or build_calendar_provider(settings, pool)
    now = now or datetime.now(UTC)
    people = PeopleRepository(pool)
    created = await people.find_coach_by_email(DEMO_COACH_EMAILS[0]) is None
    await PrincipalRepository(pool).add_admin(name=DEMO_ADMIN[0], email=DEMO_ADMIN[1], admin_id=DEMO_ADMIN_ID)
    coach_ids = []
    for name, email, phone in COACHES:
        coach = await people.find_coach_by_email(email) or await people.create_coach(
            name=name, email=email, phone=phone, calendar_id=email, timezone=COACH_TIMEZONE
        )
        coach_ids.append(coach.id)

    enrollment_ids, cancellations = [], []
    for family in FAMILIES:
        coach_id = coach_ids[family.coach]
        child_id = await _child(pool, family, coach_id)
        enrollment_id = await _enrollment(pool, family, child_id, coach_id, now)
        enrollment_ids.append(enrollment_id)
        if await workflow_exists(temporal, enrollment_workflow_id(enrollment_id)):
            continue  # its sessions live in their workflows now: seeded before (or by an older seed)
        lessons = LESSONS[family.child]
        past = await seed_history(pool, enrollment_id, coach_id, lessons, calendar, now)
        await seed_learning_events(pool, child_id, coach_id, lessons, past)
        await seed_progress(pool, child_id, coach_id, family.child, lessons, past)
        # The session after the next: the next one stays an ordinary upcoming session.
        target = await cancellation_target(pool, enrollment_id, family.past + 2, now, settings.coach_min_notice)
        if target is not None:
            cancellations.append((target, coach_id, CANCELLATION_REASONS[family.child]))

    await request_cancellations(pool, temporal, task_queue, settings, cancellations)
    await start_enrollment_workflows(temporal, task_queue, enrollment_ids)
    return {
        "coach_ids": [str(c) for c in coach_ids],
        "enrollment_ids": [str(e) for e in enrollment_ids],
        "created": created,
        "cancellation_requests": len(cancellations),
    }


async def _child(pool: asyncpg.Pool, family: Family, coach_id: UUID) -> UUID:
    existing = await pool.fetchval(
        "SELECT id FROM children WHERE name = $1 AND coach_id = $2 ORDER BY created_at LIMIT 1", family.child, coach_id
    )
    if isinstance(existing, UUID):
        return existing
    people = PeopleRepository(pool)
    parent_id = await pool.fetchval("SELECT id FROM parents WHERE phone = $1", family.phone)
    if not isinstance(parent_id, UUID):
        parent_id = (await people.create_parent(name=family.parent, phone=family.phone, email=None)).id
    child = await people.create_child(name=family.child, age=family.age, parent_id=parent_id, coach_id=coach_id)
    return child.id


async def _enrollment(pool: asyncpg.Pool, family: Family, child_id: UUID, coach_id: UUID, now: datetime) -> UUID:
    """The child's demo enrollment (its first with this coach), created to start on the day that
    puts ``family.past`` sessions behind ``now``."""
    existing = await pool.fetchval(
        "SELECT id FROM enrollments WHERE child_id = $1 AND coach_id = $2 ORDER BY created_at, id LIMIT 1",
        child_id,
        coach_id,
    )
    if isinstance(existing, UUID):
        return existing
    enrollment = await EnrollmentRepository(pool).create(
        EnrollmentPlan(
            child_id=child_id,
            coach_id=coach_id,
            start_date=start_date(family, now),
            session_time=family.session_time,
            weekdays=list(family.weekdays),
            session_count=family.sessions,
            duration_minutes=SESSION_MINUTES,
        )
    )
    return enrollment.id
