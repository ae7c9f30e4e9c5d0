"""Queueing the messages a session's timers send: the parent's reminders and the coach's nudges.

One transaction each: the session's row is locked and re-read, so a reminder for a time the session no
longer has (rescheduled, cancelled, resolved meanwhile) is not queued; the outbox's idempotency key
(session + timer + scheduled time) queues each one at most once, across retries and worker restarts.
No learning event: a reminder is not something that happened in the child's learning.
"""

from uuid import UUID

import asyncpg

from coach_sessions.contracts import TimerMessageInput
from coach_sessions.repositories.outbox import enqueue_message
from coach_sessions.statuses import RESOLVED_STATUSES, CancellationStatus, SessionStatus
from coach_sessions.templates import (
    COACH_PENDING_NUDGE,
    SESSION_REMINDER,
    MessageContext,
    Recipient,
    addressee,
    render_params,
)

_REMINDED = [SessionStatus.SCHEDULED.value, SessionStatus.RESCHEDULED.value]
_RESOLVED = sorted(s.value for s in RESOLVED_STATUSES)
# Left unresolved after their end (a rescheduled one's new time): the coach is nudged (coach_sessions/timers.py
# decides when; a workflow from before patches.RESCHEDULED_NUDGES arms no nudge for a rescheduled one).
_NUDGED = [SessionStatus.PENDING.value, SessionStatus.RESCHEDULED.value]

_SESSION_AND_PEOPLE = """
SELECT s.id, s.child_id, s.enrollment_id, s.session_number, s.scheduled_at, s.status,
       s.cancellation_status, s.meet_link,
       ch.name AS child_name, pa.name AS parent_name, pa.phone AS parent_phone,
       coalesce(pa.timezone, co.timezone) AS parent_timezone,
       co.name AS coach_name, co.phone AS coach_phone, co.timezone AS coach_timezone
  FROM scheduled_sessions s
  JOIN children ch ON ch.id = s.child_id
  JOIN parents pa ON pa.id = ch.parent_id
  JOIN coaches co ON co.id = s.coach_id
 WHERE s.id = $1
   FOR UPDATE OF s
"""

# Later sessions of the enrollment waiting behind this one (unresolved, so the sequence lock holds them).
_LOCKED_BEHIND = """
SELECT count(*) FROM scheduled_sessions
 WHERE enrollment_id = $1 AND session_number > $2 AND status <> ALL($3::text[])
"""


class TimerMessageRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def enqueue(self, request: TimerMessageInput) -> UUID | None:
        """Queue the reminder or nudge; None when the session no longer calls for it (or has nobody to
        send it to). The same key again returns the message queued the first time."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_SESSION_AND_PEOPLE, request.session_id)
            if row is None or row["scheduled_at"] != request.scheduled_at:
                return None  # moved since the timer was armed: the new time has its own timers
            recipient: Recipient = "parent" if request.kind == "reminder" else "coach"
            phone, name = addressee(row, recipient)
            if phone is None:
                return None  # a coach without a WhatsApp number gets no nudges
            if request.kind == "reminder":
                if row["status"] not in _REMINDED or row["cancellation_status"] == CancellationStatus.PENDING:
                    return None
                template, locked = SESSION_REMINDER, 0
            else:
                if row["status"] not in _NUDGED:
                    return None
                # A rescheduled session counts as resolved: it holds no later session back.
                locked = (
                    await conn.fetchval(_LOCKED_BEHIND, row["enrollment_id"], row["session_number"], _RESOLVED)
                    if row["status"] == SessionStatus.PENDING.value
                    else 0
                )
                template = COACH_PENDING_NUDGE
            context = MessageContext.from_row(
                row, timezone=row[f"{recipient}_timezone"], meet_link=row["meet_link"] or "", locked_sessions=locked
            )
            return await enqueue_message(
                conn,
                idempotency_key=request.key,
                template_name=template,
                destination=phone,
                user_name=name,
                template_params=render_params(template, context),
                session_id=row["id"],
                child_id=row["child_id"],
                recipient_role=recipient,
            )
