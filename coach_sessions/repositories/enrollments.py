"""Enrollments and the creation of their numbered sessions."""

from datetime import datetime
from uuid import UUID

import asyncpg

from coach_sessions.errors import DomainError, ErrorCode, NotFound
from coach_sessions.models import Enrollment, EnrollmentPlan
from coach_sessions.repositories.reconciliations import ENROLLMENT_START_GRACE, request_reconciliation
from coach_sessions.scheduling import session_start_times
from coach_sessions.statuses import SessionStatus


class EnrollmentRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, plan: EnrollmentPlan) -> Enrollment:
        """An enrollment without its sessions (tests and demo data create those themselves)."""
        async with self._pool.acquire() as conn:
            enrollment, created = await self._insert_or_find_active(conn, plan)
        if not created:
            raise DomainError(
                ErrorCode.ENROLLMENT_EXISTS, "The child already has an active enrollment with this coach."
            )
        return enrollment

    async def create_with_sessions(self, plan: EnrollmentPlan, *, now: datetime) -> tuple[Enrollment, bool]:
        """The enrollment and all its numbered sessions in one transaction, or the child's active
        enrollment with this coach (``created`` False) when there is one already."""
        async with self._pool.acquire() as conn, conn.transaction():
            enrollment, created = await self._insert_or_find_active(conn, plan)
            if created:
                await self._insert_sessions(conn, enrollment, now)
                # Until the API has started its workflow: if it cannot (Temporal down, the API dies),
                # the reconciler starts it (docs/reliability.md).
                await request_reconciliation(conn, "enrollment", enrollment.id, after=ENROLLMENT_START_GRACE)
        return enrollment, created

    @staticmethod
    async def _insert_or_find_active(conn: asyncpg.Connection, plan: EnrollmentPlan) -> tuple[Enrollment, bool]:
        """Insert the plan; the coach's timezone is copied. The one-active-enrollment index turns a
        twin into "found" (False) rather than an error."""
        row = await conn.fetchrow(
            """
            INSERT INTO enrollments (child_id, coach_id, start_date, session_time, weekdays,
                                     session_count, duration_minutes, timezone)
            SELECT ch.id, co.id, $3, $4, $5, $6, $7, co.timezone
              FROM children ch JOIN coaches co ON co.id = $2
             WHERE ch.id = $1 AND co.deactivated_at IS NULL  -- a deactivated coach takes no new enrolment
            ON CONFLICT (child_id, coach_id) WHERE status = 'active' DO NOTHING
            RETURNING *
            """,
            plan.child_id,
            plan.coach_id,
            plan.start_date,
            plan.session_time,
            plan.weekdays,
            plan.session_count,
            plan.duration_minutes,
        )
        if row is not None:
            return Enrollment.model_validate(dict(row)), True
        existing = await conn.fetchrow(
            "SELECT * FROM enrollments WHERE child_id = $1 AND coach_id = $2 AND status = 'active'",
            plan.child_id,
            plan.coach_id,
        )
        if existing is None:
            if await conn.fetchval("SELECT deactivated_at IS NOT NULL FROM coaches WHERE id = $1", plan.coach_id):
                raise DomainError(
                    ErrorCode.CONFLICT, "This coach is deactivated: a child cannot be enrolled with them."
                )
            raise NotFound("child or coach", ErrorCode.NOT_FOUND)
        return Enrollment.model_validate(dict(existing)), False

    async def for_child(self, child_id: UUID) -> list[Enrollment]:
        rows = await self._pool.fetch(
            "SELECT * FROM enrollments WHERE child_id = $1 ORDER BY created_at DESC, id", child_id
        )
        return [Enrollment.model_validate(dict(r)) for r in rows]

    async def get(self, enrollment_id: UUID) -> Enrollment | None:
        row = await self._pool.fetchrow("SELECT * FROM enrollments WHERE id = $1", enrollment_id)
        return Enrollment.model_validate(dict(row)) if row else None

    async def list_ids_for_coaches(self, coach_ids: list[UUID]) -> list[UUID]:
        rows = await self._pool.fetch(
            "SELECT id FROM enrollments WHERE coach_id = ANY($1::uuid[]) ORDER BY created_at, id", coach_ids
        )
        return [r["id"] for r in rows]

    async def create_sessions(self, enrollment_id: UUID, now: datetime) -> list[UUID]:
        """Create the enrollment's numbered sessions; safe to repeat (a retried activity adds none).

        Sessions whose end already lies behind ``now`` (an imported, running programme) start as
        ``pending``: they are awaiting the coach's resolution.
        """
        enrollment = await self.get(enrollment_id)
        if enrollment is None:
            raise NotFound("enrollment", ErrorCode.NOT_FOUND)
        async with self._pool.acquire() as conn, conn.transaction():
            await self._insert_sessions(conn, enrollment, now)
            rows = await conn.fetch(
                "SELECT id FROM scheduled_sessions WHERE enrollment_id = $1 ORDER BY session_number",
                enrollment_id,
            )
        return [r["id"] for r in rows]

    @staticmethod
    async def _insert_sessions(conn: asyncpg.Connection, enrollment: Enrollment, now: datetime) -> None:
        starts = session_start_times(
            start_date=enrollment.start_date,
            session_time=enrollment.session_time,
            weekdays=enrollment.weekdays,
            count=enrollment.session_count,
            timezone=enrollment.timezone,
        )
        await conn.executemany(
            """
            INSERT INTO scheduled_sessions (child_id, coach_id, enrollment_id, session_number,
                                            scheduled_at, duration_minutes, status)
            VALUES ($1, $2, $3, $4, $5::timestamptz, $6::integer,
                    CASE WHEN $5::timestamptz + make_interval(mins => $6::integer) <= $7::timestamptz
                         THEN $8 ELSE $9 END)
            ON CONFLICT ON CONSTRAINT scheduled_sessions_number_key DO NOTHING
            """,
            [
                (
                    enrollment.child_id,
                    enrollment.coach_id,
                    enrollment.id,
                    number,
                    start,
                    enrollment.duration_minutes,
                    now,
                    SessionStatus.PENDING.value,
                    SessionStatus.SCHEDULED.value,
                )
                for number, start in enumerate(starts, start=1)
            ],
        )
