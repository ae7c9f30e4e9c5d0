"""Scheduled sessions: reads with their lock state, and the primitives of a status transition."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from coach_sessions.contracts import SessionAction, TransitionRequest, TransitionResult
from coach_sessions.errors import NotFound
from coach_sessions.models import SessionRecord
from coach_sessions.statuses import (
    RESOLVED_STATUSES,
    TERMINAL_STATUSES,
    CalendarSyncStatus,
    LearningEventType,
    SessionStatus,
)

# Actions whose replay (a retried activity) must re-run the calendar sync.
CALENDAR_ACTIONS = frozenset({SessionAction.RESCHEDULE, SessionAction.CANCEL, SessionAction.APPROVE_CANCELLATION})
_RESOLVED = sorted(s.value for s in RESOLVED_STATUSES)
_TERMINAL = sorted(s.value for s in TERMINAL_STATUSES)

_END_ENROLLMENT_WHEN_DONE = """
UPDATE enrollments SET status = 'ended'
 WHERE id = $1 AND status = 'active'
   AND NOT EXISTS (SELECT 1 FROM scheduled_sessions
                    WHERE enrollment_id = $1 AND status <> ALL($2::text[]))
"""

# The row plus the earliest unresolved earlier session of its enrollment ($1 = resolved statuses).
_SELECT_WITH_LOCK = """
SELECT s.*,
       (SELECT min(p.session_number) FROM scheduled_sessions p
         WHERE p.enrollment_id = s.enrollment_id
           AND p.session_number < s.session_number
           AND p.status <> ALL($1::text[])) AS blocking_session_number
  FROM scheduled_sessions s
"""

# What a transition needs beyond the row: who to tell, in whose timezone.
_PEOPLE = """
SELECT ch.name AS child_name, pa.name AS parent_name, pa.phone AS parent_phone,
       co.name AS coach_name, co.phone AS coach_phone, co.timezone AS coach_timezone
  FROM children ch JOIN parents pa ON pa.id = ch.parent_id JOIN coaches co ON co.id = $2
 WHERE ch.id = $1
"""


# A session and every earlier one of its enrollment, in session order.
_THROUGH = """
SELECT s.* FROM scheduled_sessions s
  JOIN scheduled_sessions target ON target.id = $1
 WHERE s.enrollment_id = target.enrollment_id AND s.session_number <= target.session_number
 ORDER BY s.session_number
"""


def transition_key(session_id: UUID, request_id: str) -> str:
    """The idempotency key of one transition's learning event; its messages' keys start with it."""
    return f"transition:{session_id}:{request_id}"


class SessionRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # ----- reads -------------------------------------------------------------------------------

    async def get(self, session_id: UUID) -> SessionRecord | None:
        row = await self._pool.fetchrow(_SELECT_WITH_LOCK + " WHERE s.id = $2", _RESOLVED, session_id)
        return SessionRecord.model_validate(dict(row)) if row else None

    async def list_for_child(self, child_id: UUID, coach_id: UUID | None) -> list[SessionRecord]:
        rows = await self._pool.fetch(
            _SELECT_WITH_LOCK + " WHERE s.child_id = $2 AND ($3::uuid IS NULL OR s.coach_id = $3)"
            " ORDER BY s.session_number, s.scheduled_at, s.id",
            _RESOLVED,
            child_id,
            coach_id,
        )
        return [SessionRecord.model_validate(dict(r)) for r in rows]

    async def transition_committed(self, session_id: UUID, request_id: str) -> bool:
        """Whether the request ``request_id`` (an update id) changed this session: directly, or as
        the decision that settled its cancellation request."""
        return bool(
            await self._pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM learning_events WHERE session_id = $1"
                " AND (idempotency_key = $2 OR event_data->>'decision_token' = $3))",
                session_id,
                transition_key(session_id, request_id),
                request_id,
            )
        )

    async def queued_messages(self, session_id: UUID) -> list[UUID]:
        """The session's messages not yet handed to a delivery attempt, oldest first."""
        rows = await self._pool.fetch(
            "SELECT id FROM outbound_messages WHERE session_id = $1 AND status = 'queued' ORDER BY created_at",
            session_id,
        )
        return [r["id"] for r in rows]

    # ----- timer-driven ------------------------------------------------------------------------

    async def mark_pending(self, session_id: UUID, now: datetime) -> SessionRecord:
        """``scheduled`` → ``pending`` once the session's end has passed; a no-op otherwise."""
        await self._pool.execute(
            """
            UPDATE scheduled_sessions
               SET status = $2, version = version + 1, updated_at = now()
             WHERE id = $1 AND status = $3
               AND scheduled_at + make_interval(mins => duration_minutes) <= $4
            """,
            session_id,
            SessionStatus.PENDING.value,
            SessionStatus.SCHEDULED.value,
            now,
        )
        record = await self.get(session_id)
        if record is None:
            raise NotFound()
        return record

    # ----- transitions: the primitives activities/sessions.py runs in one transaction -------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def read_through(self, session_id: UUID) -> tuple[list[asyncpg.Record], asyncpg.Record]:
        """What ``lock_through`` and ``people`` read, without locking: for a read-only preview."""
        async with self._pool.acquire() as conn:
            siblings = await conn.fetch(_THROUGH, session_id)
            if not siblings:
                raise NotFound()
            return list(siblings), await self.people(conn, siblings[-1]["child_id"], siblings[-1]["coach_id"])

    @staticmethod
    async def lock_through(conn: asyncpg.Connection, session_id: UUID) -> list[asyncpg.Record]:
        """This session and every earlier one of its enrollment, locked (``FOR UPDATE``) in session
        order, the session last: two concurrent actions on sessions 4 and 5 serialise, so 5 can never
        be resolved while 4 is not."""
        siblings = await conn.fetch(_THROUGH + " FOR UPDATE OF s", session_id)
        if not siblings:
            raise NotFound()
        return list(siblings)

    async def replayed(self, conn: asyncpg.Connection, request: TransitionRequest) -> TransitionResult | None:
        """The result of this very request when it committed before (a retried activity), else None."""
        key = transition_key(request.session_id, request.request_id)
        if not await conn.fetchval("SELECT 1 FROM learning_events WHERE idempotency_key = $1", key):
            return None
        message_ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM outbound_messages WHERE idempotency_key LIKE $1 || ':%' ORDER BY created_at", key
            )
        ]
        return TransitionResult(
            session=await self._get_in(conn, request.session_id),
            message_ids=message_ids,
            calendar_sync_needed=request.action in CALENDAR_ACTIONS,
        )

    @staticmethod
    async def people(conn: asyncpg.Connection, child_id: UUID, coach_id: UUID) -> asyncpg.Record:
        """Who a transition tells, in whose timezone: the child's and parent's names, the coach's."""
        return await conn.fetchrow(_PEOPLE, child_id, coach_id)

    @staticmethod
    async def write(conn: asyncpg.Connection, session_id: UUID, columns: dict[str, Any]) -> asyncpg.Record:
        """Write a transition's columns (names from ``transitions.plan``, never from a caller)."""
        assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(columns, start=2))
        return await conn.fetchrow(
            f"UPDATE scheduled_sessions SET {assignments}, version = version + 1, updated_at = now()"
            " WHERE id = $1 RETURNING *",
            session_id,
            *columns.values(),
        )

    @staticmethod
    async def end_enrollment_when_done(conn: asyncpg.Connection, enrollment_id: UUID) -> None:
        """The last session resolved ends the enrollment: the child may be enrolled again."""
        await conn.execute(_END_ENROLLMENT_WHEN_DONE, enrollment_id, _TERMINAL)

    @staticmethod
    async def last_callback_notice(
        conn: asyncpg.Connection, session_id: UUID, requested_at: datetime
    ) -> datetime | None:
        """When a "Call Me" of the current request (the one asked at ``requested_at``) last notified the
        coach. Workflow time on both sides (``event_date`` is the transition's ``now``), so a skewed
        database clock cannot open or close the window. An event written before ``coach_notified``
        existed did notify. A transition holds the session's row lock: concurrent taps read this one
        after the other, each seeing the last one's event."""
        return await conn.fetchval(  # type: ignore[no-any-return]
            "SELECT max(event_date) FROM learning_events WHERE session_id = $1 AND event_type = $2"
            " AND event_date >= $3 AND coalesce((event_data->>'coach_notified')::boolean, true)",
            session_id,
            LearningEventType.PARENT_CALLBACK_REQUESTED.value,
            requested_at,
        )

    @staticmethod
    async def record_request_message(conn: asyncpg.Connection, session_id: UUID, message_id: UUID) -> asyncpg.Record:
        """The cancellation request's own message: the parent's taps reply to it. A trigger (migration
        0012) names the request on the message, so a tap quoting it later finds the request it answers."""
        return await conn.fetchrow(
            "UPDATE scheduled_sessions SET cancellation_message_id = $2 WHERE id = $1 RETURNING *",
            session_id,
            message_id,
        )

    async def _get_in(self, conn: asyncpg.Connection, session_id: UUID) -> SessionRecord:
        row = await conn.fetchrow(_SELECT_WITH_LOCK + " WHERE s.id = $2", _RESOLVED, session_id)
        return SessionRecord.model_validate(dict(row))

    # ----- calendar sync state -----------------------------------------------------------------

    async def record_calendar_event(
        self, session_id: UUID, *, google_event_id: str | None, meet_link: str | None, synced: dict[str, Any]
    ) -> None:
        """Record what the calendar now holds (``synced`` is the session as the sync read it). The
        status becomes "synced" only if the time and the cancellation are still what was synced: a
        change made meanwhile stays "pending" for the pass that follows it."""
        await self._pool.execute(
            """
            UPDATE scheduled_sessions
               SET google_event_id = $2, meet_link = coalesce($3, meet_link), updated_at = now(),
                   calendar_sync_status = CASE WHEN still THEN $4 ELSE calendar_sync_status END,
                   calendar_sync_error = CASE WHEN still THEN NULL ELSE calendar_sync_error END
              FROM (SELECT scheduled_at = $5 AND (status = $6) = $7 AS still
                      FROM scheduled_sessions WHERE id = $1 FOR UPDATE) AS unchanged
             WHERE id = $1
            """,
            session_id,
            google_event_id,
            meet_link,
            CalendarSyncStatus.SYNCED.value,
            synced["scheduled_at"],
            SessionStatus.CANCELLED.value,
            synced["status"] == SessionStatus.CANCELLED,
        )

    async def record_calendar_sync(self, session_id: UUID, status: CalendarSyncStatus, error: str | None) -> None:
        await self._pool.execute(
            "UPDATE scheduled_sessions SET calendar_sync_status = $2, calendar_sync_error = $3,"
            " updated_at = now() WHERE id = $1",
            session_id,
            status.value,
            error[:1000] if error else None,
        )

    async def calendar_context(self, session_id: UUID) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(
            """
            SELECT s.id, s.session_number, s.scheduled_at, s.duration_minutes, s.status,
                   s.google_event_id, s.meet_link, ch.name AS child_name, co.name AS coach_name,
                   co.email AS coach_email, co.calendar_id, co.timezone
              FROM scheduled_sessions s
              JOIN children ch ON ch.id = s.child_id
              JOIN coaches co ON co.id = s.coach_id
             WHERE s.id = $1
            """,
            session_id,
        )
        return dict(row) if row else None
