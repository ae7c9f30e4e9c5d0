"""The local calendar provider's own table, ``local_calendar_events`` (no Google involved)."""

from datetime import datetime

import asyncpg

from coach_sessions.slots import Busy


class LocalCalendarRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def upsert(
        self, calendar_id: str, event_id: str, summary: str, start: datetime, end: datetime, meet_link: str
    ) -> str:
        """Insert the event, or bring an existing one to these times (confirmed again); its link."""
        link = await self._pool.fetchval(
            """
            INSERT INTO local_calendar_events (calendar_id, event_id, summary, start_at, end_at, meet_link)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (calendar_id, event_id) DO UPDATE
               SET summary = EXCLUDED.summary, start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at,
                   status = 'confirmed', updated_at = now()
            RETURNING meet_link
            """,
            calendar_id,
            event_id,
            summary,
            start,
            end,
            meet_link,
        )
        return str(link)

    async def busy(self, calendar_id: str, lo: datetime, hi: datetime) -> list[Busy]:
        """Confirmed events of the calendar overlapping [lo, hi), earliest first."""
        rows = await self._pool.fetch(
            "SELECT start_at, end_at FROM local_calendar_events WHERE calendar_id = $1 AND status = 'confirmed'"
            " AND start_at < $3 AND end_at > $2 ORDER BY start_at",
            calendar_id,
            lo,
            hi,
        )
        return [(r["start_at"], r["end_at"]) for r in rows]

    async def cancel(self, calendar_id: str, event_id: str) -> None:
        """Mark the event cancelled; one already cancelled (or absent) is left alone."""
        await self._pool.execute(
            "UPDATE local_calendar_events SET status = 'cancelled', updated_at = now()"
            " WHERE calendar_id = $1 AND event_id = $2 AND status <> 'cancelled'",
            calendar_id,
            event_id,
        )
