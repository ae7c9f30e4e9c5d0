"""The coach's agenda in one query: the sessions of a day range and of today, and every session that
may need the coach (``coach_sessions.agenda.needs_of`` decides which do), each with its child's name
and lock state, and the day bounds in the coach's timezone."""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import asyncpg

from coach_sessions.models import SessionRecord
from coach_sessions.statuses import ACTIONABLE_STATUSES, RESOLVED_STATUSES, SessionStatus

_RESOLVED = sorted(s.value for s in RESOLVED_STATUSES)
_OPEN = sorted(s.value for s in ACTIONABLE_STATUSES)
# A failed calendar sync of these no longer matters (agenda.needs_of): the session is over.
_SYNC_IRRELEVANT = [SessionStatus.COMPLETED.value, SessionStatus.MISSED.value]

# $1 coach, $2/$3 the range's first and last day (NULL: the coach's today and six days on), $4 now,
# $5 resolved statuses, $6 open statuses, $7 statuses whose failed sync is not a need. Days are the
# coach's: local midnights converted to instants.
# The OR of candidates reads the coach's rows through scheduled_sessions_coach_idx (coach_id first).
_AGENDA = """
WITH coach AS (
    SELECT id, name, timezone, ($4::timestamptz AT TIME ZONE timezone)::date AS today FROM coaches WHERE id = $1
), bounds AS (
    SELECT id, name, timezone, today,
           coalesce($2::date, today) AS from_date,
           coalesce($3::date, today + 6) AS to_date
      FROM coach
), instants AS (
    SELECT b.*,
           from_date::timestamp AT TIME ZONE timezone AS range_start,
           (to_date + 1)::timestamp AT TIME ZONE timezone AS range_end,
           today::timestamp AT TIME ZONE timezone AS today_start,
           (today + 1)::timestamp AT TIME ZONE timezone AS today_end
      FROM bounds b
)
SELECT i.name AS coach_name, i.timezone AS coach_timezone, i.today AS coach_today, i.from_date, i.to_date,
       i.range_start, i.range_end, i.today_start, i.today_end,
       s.*, ch.name AS child_name,
       (SELECT min(p.session_number) FROM scheduled_sessions p
         WHERE p.enrollment_id = s.enrollment_id
           AND p.session_number < s.session_number
           AND p.status <> ALL($5::text[])) AS blocking_session_number
  FROM instants i
  LEFT JOIN LATERAL (
        SELECT * FROM scheduled_sessions x
         WHERE x.coach_id = i.id
           AND (   (x.scheduled_at >= i.range_start AND x.scheduled_at < i.range_end)
                OR (x.scheduled_at >= i.today_start AND x.scheduled_at < i.today_end)
                OR (x.status = ANY($6::text[]) AND x.scheduled_at + make_interval(mins => x.duration_minutes) <= $4)
                OR x.cancellation_status = 'pending'
                OR (x.calendar_sync_status = 'failed' AND x.status <> ALL($7::text[])))
  ) s ON true
  LEFT JOIN children ch ON ch.id = s.child_id
 ORDER BY s.scheduled_at, s.session_number, s.id
"""


@dataclass(frozen=True)
class AgendaRows:
    coach_name: str
    timezone: str
    today: date
    from_date: date
    to_date: date
    range_start: datetime
    range_end: datetime
    today_start: datetime
    today_end: datetime
    sessions: list[tuple[SessionRecord, str]]  # each with its child's name, earliest first


class AgendaRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def read(
        self, coach_id: UUID, from_date: date | None, to_date: date | None, now: datetime
    ) -> AgendaRows | None:
        """The coach's agenda rows; None when there is no such coach."""
        rows = await self._pool.fetch(_AGENDA, coach_id, from_date, to_date, now, _RESOLVED, _OPEN, _SYNC_IRRELEVANT)
        if not rows:
            return None
        first = rows[0]
        sessions = [
            (SessionRecord.model_validate({k: r[k] for k in SessionRecord.model_fields}), r["child_name"])
            for r in rows
            if r["id"] is not None
        ]
        return AgendaRows(
            coach_name=first["coach_name"],
            timezone=first["coach_timezone"],
            today=first["coach_today"],
            from_date=first["from_date"],
            to_date=first["to_date"],
            range_start=first["range_start"],
            range_end=first["range_end"],
            today_start=first["today_start"],
            today_end=first["today_end"],
            sessions=sessions,
        )
