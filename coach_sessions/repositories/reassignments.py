"""Reassigning a child to another coach (docs/domain.md, "Reassigning a child").

``reassign`` is one transaction: the child, its active enrolment and its sessions still to come move to
the new coach (their calendar to be synced on the new coach's calendar, with a new Meet link); the event
each leaves on the old coach's calendar is recorded for removal; a learning event and the parent's one
message; a reconciliation for the workflow's start. Sessions already resolved (or started, unresolved)
keep their coach. The ReassignmentWorkflow then removes the old events, has each session's workflow sync
its new one, delivers the message and completes the row; each step is safe to run again.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from coach_sessions.errors import DomainError, ErrorCode, NotFound
from coach_sessions.repositories.learning_events import insert_learning_event
from coach_sessions.repositories.outbox import enqueue_message
from coach_sessions.repositories.reconciliations import request_reconciliation
from coach_sessions.statuses import LearningEventType
from coach_sessions.templates import COACH_CHANGED, MessageContext, render_params

_TO_COME = """
SELECT s.id, s.google_event_id, coalesce(co.calendar_id, co.email) AS calendar_id, co.email AS subject
  FROM scheduled_sessions s JOIN coaches co ON co.id = s.coach_id
 WHERE s.child_id = $1 AND s.coach_id = $2 AND s.status IN ('scheduled', 'rescheduled') AND s.scheduled_at > now()
 ORDER BY s.session_number
   FOR UPDATE OF s
"""
_COLUMNS = "id, child_id, from_coach_id, to_coach_id, requested_by, reason, message_id, created_at, completed_at"


@dataclass(frozen=True)
class Reassignment:
    id: UUID
    child_id: UUID
    from_coach_id: UUID
    to_coach_id: UUID
    requested_by: UUID
    reason: str | None
    message_id: UUID | None
    created_at: datetime
    completed_at: datetime | None
    session_ids: list[UUID]
    created: bool


class ReassignmentRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def reassign(
        self, child_id: UUID, to_coach_id: UUID, *, requested_by: UUID, reason: str | None
    ) -> Reassignment:
        async with self._pool.acquire() as conn, conn.transaction():
            child = await conn.fetchrow(
                "SELECT c.*, p.name AS parent_name, p.phone AS parent_phone FROM children c"
                " JOIN parents p ON p.id = c.parent_id WHERE c.id = $1 FOR UPDATE OF c",
                child_id,
            )
            if child is None:
                raise NotFound("child", ErrorCode.NOT_FOUND)
            coach = await conn.fetchrow("SELECT * FROM coaches WHERE id = $1", to_coach_id)
            if coach is None:
                raise NotFound("coach", ErrorCode.NOT_FOUND)
            under_way = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM reassignments WHERE child_id = $1 AND completed_at IS NULL", child_id
            )
            if under_way is not None:
                if under_way["to_coach_id"] == to_coach_id:  # the same request again
                    return await self._answer(conn, under_way, created=False)
                raise DomainError(ErrorCode.CONFLICT, "This child's move to another coach is still under way.")
            if child["coach_id"] == to_coach_id:
                done = await conn.fetchrow(
                    f"SELECT {_COLUMNS} FROM reassignments WHERE child_id = $1 AND to_coach_id = $2"
                    " ORDER BY created_at DESC LIMIT 1",
                    child_id,
                    to_coach_id,
                )
                if done is not None:
                    return await self._answer(conn, done, created=False)
                raise DomainError(ErrorCode.CONFLICT, "This child is already with this coach.")
            if coach["deactivated_at"] is not None:
                raise DomainError(ErrorCode.CONFLICT, "This coach is deactivated: no child can move to them.")
            return await self._move(conn, child, coach, requested_by, reason)

    async def _move(
        self, conn: asyncpg.Connection, child: asyncpg.Record, coach: asyncpg.Record, by: UUID, reason: str | None
    ) -> Reassignment:
        from_coach = child["coach_id"]
        to_come = await conn.fetch(_TO_COME, child["id"], from_coach)
        try:
            await conn.execute(
                "UPDATE enrollments SET coach_id = $3 WHERE child_id = $1 AND coach_id = $2 AND status = 'active'",
                child["id"],
                from_coach,
                coach["id"],
            )
        except asyncpg.UniqueViolationError:
            raise DomainError(
                ErrorCode.CONFLICT, "The child already has an active enrolment with this coach."
            ) from None
        await conn.execute("UPDATE children SET coach_id = $2 WHERE id = $1", child["id"], coach["id"])
        row = await conn.fetchrow(
            f"INSERT INTO reassignments (child_id, from_coach_id, to_coach_id, requested_by, reason)"
            f" VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
            child["id"],
            from_coach,
            coach["id"],
            by,
            reason,
        )
        await conn.executemany(
            "INSERT INTO reassigned_sessions (reassignment_id, session_id, old_calendar_id, old_event_id, old_subject)"
            " VALUES ($1, $2, $3, $4, $5)",
            [(row["id"], s["id"], s["calendar_id"], s["google_event_id"], s["subject"]) for s in to_come],
        )
        await conn.execute(
            "UPDATE scheduled_sessions SET coach_id = $2, google_event_id = NULL, meet_link = NULL,"
            " calendar_sync_status = 'pending', calendar_sync_error = NULL, updated_at = now(), version = version + 1"
            " WHERE id = ANY($1::uuid[])",
            [s["id"] for s in to_come],
            coach["id"],
        )
        now = await conn.fetchval("SELECT now()")
        await insert_learning_event(
            conn,
            child_id=child["id"],
            coach_id=coach["id"],
            session_id=None,
            event_type=LearningEventType.COACH_REASSIGNED.value,
            event_date=now,
            event_data={"from_coach_id": str(from_coach), "to_coach_id": str(coach["id"]), "sessions": len(to_come)},
            content_for_embedding=f"The child moved to a new coach; {len(to_come)} planned sessions moved with them.",
            idempotency_key=f"reassignment:{row['id']}",
        )
        context = MessageContext(
            parent_name=child["parent_name"],
            child_name=child["name"],
            coach_name=coach["name"],
            session_number=0,
            scheduled_at=now,
            timezone=coach["timezone"],
            sessions_cancelled=len(to_come),
        )
        message_id = await enqueue_message(
            conn,
            idempotency_key=f"reassignment:{row['id']}",
            template_name=COACH_CHANGED,
            destination=child["parent_phone"],
            user_name=child["parent_name"],
            template_params=render_params(COACH_CHANGED, context),
            session_id=None,
            child_id=child["id"],
        )
        await conn.execute("UPDATE reassignments SET message_id = $2 WHERE id = $1", row["id"], message_id)
        await request_reconciliation(conn, "reassignment", row["id"])
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM reassignments WHERE id = $1", row["id"])
        return await self._answer(conn, row, created=True)

    @staticmethod
    async def _answer(conn: asyncpg.Connection, row: asyncpg.Record, *, created: bool) -> Reassignment:
        sessions = await conn.fetch(
            "SELECT r.session_id FROM reassigned_sessions r JOIN scheduled_sessions s ON s.id = r.session_id"
            " WHERE r.reassignment_id = $1 ORDER BY s.session_number",
            row["id"],
        )
        return Reassignment(**dict(row), session_ids=[r["session_id"] for r in sessions], created=created)

    # ----- the workflow's steps -------------------------------------------------------------------

    async def old_events(self, reassignment_id: UUID) -> list[dict[str, Any]]:
        """The events still to remove from the old coach's calendar."""
        rows = await self._pool.fetch(
            "SELECT session_id, old_calendar_id, old_event_id, old_subject FROM reassigned_sessions"
            " WHERE reassignment_id = $1 AND old_event_removed_at IS NULL AND old_event_id IS NOT NULL"
            " ORDER BY session_id",
            reassignment_id,
        )
        return [dict(r) for r in rows]

    async def old_event_removed(self, reassignment_id: UUID, session_id: UUID) -> None:
        await self._pool.execute(
            "UPDATE reassigned_sessions SET old_event_removed_at = now()"
            " WHERE reassignment_id = $1 AND session_id = $2 AND old_event_removed_at IS NULL",
            reassignment_id,
            session_id,
        )

    async def moved_sessions(self, reassignment_id: UUID) -> list[UUID]:
        rows = await self._pool.fetch(
            "SELECT session_id FROM reassigned_sessions WHERE reassignment_id = $1 ORDER BY session_id",
            reassignment_id,
        )
        return [r["session_id"] for r in rows]

    async def message_of(self, reassignment_id: UUID) -> UUID | None:
        message_id: UUID | None = await self._pool.fetchval(
            "SELECT message_id FROM reassignments WHERE id = $1", reassignment_id
        )
        return message_id

    async def complete(self, reassignment_id: UUID) -> None:
        await self._pool.execute(
            "UPDATE reassignments SET completed_at = coalesce(completed_at, now()) WHERE id = $1", reassignment_id
        )
