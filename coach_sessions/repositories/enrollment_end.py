"""Ending an enrolment early (docs/domain.md, "Ending an enrolment"), in one transaction.

The enrolment becomes ``ended`` (with when, by whom, why); its sessions still to come are cancelled
(their calendar to be synced: the event goes); the parent's message is queued once; learning events
record it; and a reconciliation is asked for each cancelled session's workflow and for the message, so
the workflows (which adopt the row, free the calendar event and deliver the message) follow even if the
process dies right after the commit. Resolved and started-but-unresolved sessions stay as they are,
and the learning record stays. Asked again, it changes nothing and answers the same ending.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from coach_sessions.repositories.learning_events import insert_learning_event
from coach_sessions.repositories.outbox import enqueue_message
from coach_sessions.repositories.reconciliations import request_reconciliation
from coach_sessions.statuses import LearningEventType
from coach_sessions.templates import ENROLLMENT_ENDED, MessageContext, render_params

# Still to come: not started (a started, unresolved session is the coach's to resolve).
_TO_COME = """
SELECT s.id, s.session_number FROM scheduled_sessions s
 WHERE s.enrollment_id = $1 AND s.status IN ('scheduled', 'rescheduled') AND s.scheduled_at > now()
 ORDER BY s.session_number
   FOR UPDATE
"""
_CANCEL = """
UPDATE scheduled_sessions
   SET status = 'cancelled', cancellation_reason = $2, calendar_sync_status = 'pending',
       cancellation_status = CASE WHEN cancellation_status = 'pending' THEN 'none' ELSE cancellation_status END,
       cancellation_requested_at = CASE WHEN cancellation_status = 'pending' THEN NULL
                                        ELSE cancellation_requested_at END,
       cancellation_expires_at = CASE WHEN cancellation_status = 'pending' THEN NULL ELSE cancellation_expires_at END,
       updated_at = now(), version = version + 1
 WHERE id = ANY($1::uuid[])
"""
_PEOPLE = """
SELECT c.name AS child_name, p.name AS parent_name, p.phone AS parent_phone, co.name AS coach_name, e.timezone
  FROM enrollments e JOIN children c ON c.id = e.child_id JOIN parents p ON p.id = c.parent_id
  JOIN coaches co ON co.id = e.coach_id
 WHERE e.id = $1
"""


@dataclass(frozen=True)
class EnrollmentEnding:
    enrollment_id: UUID
    ended_at: datetime
    ended_by: UUID
    end_reason: str
    cancelled_session_ids: list[UUID]
    message_id: UUID | None
    created: bool  # False: it was ended before (by this request or another); nothing changed now


class EnrollmentEndRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def end(self, enrollment_id: UUID, *, ended_by: UUID, reason: str) -> EnrollmentEnding | None:
        """None: no such enrolment. An enrolment that ended by itself (every session resolved) cannot be
        ended early: ``created`` False with no ``ended_by`` recorded raises ``AlreadyEnded``."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT * FROM enrollments WHERE id = $1 FOR UPDATE", enrollment_id)
            if row is None:
                return None
            if row["status"] == "ended":
                if row["ended_by"] is None:
                    raise AlreadyEnded()
                return await self._ending(conn, row, created=False)
            to_come = await conn.fetch(_TO_COME, enrollment_id)
            ids = [r["id"] for r in to_come]
            await conn.execute(_CANCEL, ids, reason)
            await conn.execute(
                "UPDATE enrollments SET status = 'ended', ended_at = now(), ended_by = $2, end_reason = $3"
                " WHERE id = $1",
                enrollment_id,
                ended_by,
                reason,
            )
            now = await conn.fetchval("SELECT now()")
            for session in to_come:
                await insert_learning_event(
                    conn,
                    child_id=row["child_id"],
                    coach_id=row["coach_id"],
                    session_id=session["id"],
                    event_type=LearningEventType.SESSION_CANCELLED.value,
                    event_date=now,
                    event_data={"reason": reason, "cancelled_by": "enrollment_ended"},
                    content_for_embedding=f"Session {session['session_number']} cancelled: the enrolment ended.",
                    idempotency_key=f"enrollment-ended:{enrollment_id}:{session['id']}",
                )
            await insert_learning_event(
                conn,
                child_id=row["child_id"],
                coach_id=row["coach_id"],
                session_id=None,
                event_type=LearningEventType.ENROLLMENT_ENDED.value,
                event_date=now,
                event_data={"enrollment_id": str(enrollment_id), "sessions_cancelled": len(ids), "reason": reason},
                content_for_embedding=f"The enrolment ended early; {len(ids)} planned sessions were cancelled.",
                idempotency_key=f"enrollment-ended:{enrollment_id}",
            )
            people = await conn.fetchrow(_PEOPLE, enrollment_id)
            context = MessageContext(
                parent_name=people["parent_name"],
                child_name=people["child_name"],
                coach_name=people["coach_name"],
                session_number=0,
                scheduled_at=now,
                timezone=people["timezone"],
                sessions_cancelled=len(ids),
            )
            message_id = await enqueue_message(
                conn,
                idempotency_key=f"enrollment-ended:{enrollment_id}",
                template_name=ENROLLMENT_ENDED,
                destination=people["parent_phone"],
                user_name=people["parent_name"],
                template_params=render_params(ENROLLMENT_ENDED, context),
                session_id=None,
                child_id=row["child_id"],
            )
            for session_id in ids:
                await request_reconciliation(conn, "session", session_id)
            await request_reconciliation(conn, "message", message_id)
            ended = await conn.fetchrow("SELECT * FROM enrollments WHERE id = $1", enrollment_id)
            return await self._ending(conn, ended, created=True)

    @staticmethod
    async def _ending(conn: asyncpg.Connection, row: asyncpg.Record, *, created: bool) -> EnrollmentEnding:
        cancelled = await conn.fetch(
            "SELECT l.session_id FROM learning_events l JOIN scheduled_sessions s ON s.id = l.session_id"
            " WHERE l.idempotency_key LIKE $1 ORDER BY s.session_number",
            f"enrollment-ended:{row['id']}:%",
        )
        message_id = await conn.fetchval(
            "SELECT id FROM outbound_messages WHERE idempotency_key = $1", f"enrollment-ended:{row['id']}"
        )
        return EnrollmentEnding(
            enrollment_id=row["id"],
            ended_at=row["ended_at"],
            ended_by=row["ended_by"],
            end_reason=row["end_reason"],
            cancelled_session_ids=[r["session_id"] for r in cancelled],
            message_id=message_id,
            created=created,
        )


class AlreadyEnded(Exception):
    """The enrolment ended by itself (every session resolved): there is nothing to end early."""
