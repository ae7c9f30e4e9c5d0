"""Test data built through the real repositories (and plain SQL where a test needs odd states)."""

import itertools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from coach_sessions.models import Child, Coach, EnrollmentPlan, Parent
from coach_sessions.repositories.enrollments import EnrollmentRepository
from coach_sessions.repositories.people import PeopleRepository


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


# Names a page test looks up must not repeat within one database (three random digits did: two
# "Child 465" headings on the admin page), so each run numbers its children.
_child_numbers = itertools.count(1)


@dataclass
class Family:
    coach: Coach
    parent: Parent
    child: Child


async def make_family(pool: asyncpg.Pool, *, coach: Coach | None = None, timezone: str = "Asia/Kolkata") -> Family:
    people = PeopleRepository(pool)
    if coach is None:
        coach = await people.create_coach(
            name="Coach " + _digits(4),
            email=f"coach-{secrets.token_hex(6)}@example.org",
            phone="+9198" + _digits(8),
            calendar_id=None,
            timezone=timezone,
        )
    parent = await people.create_parent(name="Parent " + _digits(3), phone="+9197" + _digits(8), email=None)
    child = await people.create_child(
        name=f"Child {next(_child_numbers):05d}", age=8, parent_id=parent.id, coach_id=coach.id
    )
    return Family(coach=coach, parent=parent, child=child)


async def make_sessions(
    pool: asyncpg.Pool,
    family: Family,
    starts: list[datetime],
    *,
    statuses: list[str] | None = None,
    duration_minutes: int = 45,
) -> list[UUID]:
    """An enrollment whose sessions start at exactly ``starts`` (numbered 1..n), with given statuses."""
    enrollment = await EnrollmentRepository(pool).create(
        EnrollmentPlan(
            child_id=family.child.id,
            coach_id=family.coach.id,
            start_date=starts[0].date(),
            session_time=starts[0].time().replace(tzinfo=None),
            weekdays=["mon"],
            session_count=len(starts),
            duration_minutes=duration_minutes,
        )
    )
    statuses = statuses or ["scheduled"] * len(starts)
    ids = []
    for number, (start, status) in enumerate(zip(starts, statuses, strict=True), start=1):
        ids.append(
            await pool.fetchval(
                "INSERT INTO scheduled_sessions (child_id, coach_id, enrollment_id, session_number,"
                " scheduled_at, duration_minutes, status, completed_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7 = 'completed' THEN now() END) RETURNING id",
                family.child.id,
                family.coach.id,
                enrollment.id,
                number,
                start,
                duration_minutes,
                status,
            )
        )
    return ids


def now_utc() -> datetime:
    return datetime.now(UTC)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
