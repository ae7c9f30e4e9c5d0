"""The coach's own sessions as busy stretches (for the free-slot finder)."""

from datetime import datetime
from uuid import UUID

import asyncpg

from coach_sessions.slots import Busy


async def coach_session_times(
    pool: asyncpg.Pool, coach_id: UUID, lo: datetime, hi: datetime, *, except_session: UUID
) -> list[Busy]:
    """Every session of the coach overlapping [lo, hi) except cancelled ones and ``except_session``."""
    rows = await pool.fetch(
        """
        SELECT scheduled_at, scheduled_at + make_interval(mins => duration_minutes) AS ends_at
          FROM scheduled_sessions
         WHERE coach_id = $1 AND id <> $4 AND status <> 'cancelled'
           AND scheduled_at < $3 AND scheduled_at + make_interval(mins => duration_minutes) > $2
         ORDER BY scheduled_at
        """,
        coach_id,
        lo,
        hi,
        except_session,
    )
    return [(r["scheduled_at"], r["ends_at"]) for r in rows]
