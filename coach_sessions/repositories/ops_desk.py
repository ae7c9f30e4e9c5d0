"""The ops desk's queries (migration 0017): what needs a human, and each action on it with its audit row.

Each action runs in one transaction: the row is locked, checked against the ``updated_at`` the admin saw,
changed, and the action recorded in ``ops_actions`` (with a reconciliation where a workflow must follow,
so that a start lost with the process is made by the reconciler). The same request again finds its own
audit row by the unique key (target, action, seen ``updated_at``) and changes nothing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import asyncpg

from coach_sessions.repositories.reconciliations import request_reconciliation

OpsActionName = Literal["resend", "mark_delivered", "drop", "retry_calendar_sync"]
Channel = Literal["desk", "cli"]

# (from which states, to which state) per message action.
MESSAGE_ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "resend": (frozenset({"in_doubt", "failed"}), "queued"),
    "mark_delivered": (frozenset({"in_doubt", "failed"}), "sent"),
    "drop": (frozenset({"in_doubt", "failed"}), "dropped"),
}
# A session's calendar matters while it may still happen, and when cancelled (its event must go).
SYNC_MATTERS = ("scheduled", "pending", "rescheduled", "cancelled")
PENDING_TOO_LONG = timedelta(days=1)
CONSENT_EXPIRES_SOON = timedelta(hours=12)

_ACTION_COLUMNS = (
    "id, admin_id, channel, action, target_kind, target_id, seen_updated_at, from_state, to_state, note, created_at"
)
_SESSION_CONTEXT = """
       s.id AS session_id, s.session_number, s.scheduled_at, s.status AS session_status,
       c.id AS child_id, c.name AS child_name, co.id AS coach_id, co.name AS coach_name
"""


@dataclass(frozen=True)
class ActionOutcome:
    """The audit row, whether this call wrote it (False: the same request before), and the row's state
    now (None: refused; then ``current`` says why)."""

    action: dict[str, Any] | None
    created: bool
    current_state: str | None
    current_updated_at: datetime | None


class OpsDeskRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # ----- the queue ------------------------------------------------------------------------------

    async def queue(self, limit: int) -> dict[str, list[dict[str, Any]]]:
        """What PostgreSQL says needs a human (the API adds what Temporal says), each kind at most ``limit``."""
        return {
            "messages": await self.messages_needing_a_human(limit),
            "calendar_syncs": await self.failed_calendar_syncs(limit),
            "sessions_pending": await self.sessions_pending_too_long(limit),
            "consents_expiring": await self.pending_cancellations(limit, expiring_within=CONSENT_EXPIRES_SOON),
        }

    async def messages_needing_a_human(self, limit: int) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"""
            SELECT o.id, o.status, o.template_name, o.recipient_role, o.attempts, o.last_error, o.provider,
                   o.created_at, o.updated_at, {_SESSION_CONTEXT}
              FROM outbound_messages o
              LEFT JOIN scheduled_sessions s ON s.id = o.session_id
              LEFT JOIN children c ON c.id = coalesce(o.child_id, s.child_id)
              LEFT JOIN coaches co ON co.id = coalesce(s.coach_id, c.coach_id)
             WHERE o.status IN ('in_doubt', 'failed')
             ORDER BY o.updated_at, o.id
             LIMIT $1
            """,
            limit,
        )
        return [dict(r) for r in rows]

    async def failed_calendar_syncs(self, limit: int) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"""
            SELECT s.calendar_sync_error, s.updated_at, {_SESSION_CONTEXT}
              FROM scheduled_sessions s JOIN children c ON c.id = s.child_id JOIN coaches co ON co.id = s.coach_id
             WHERE s.calendar_sync_status = 'failed' AND s.status = ANY($2::text[])
             ORDER BY s.scheduled_at, s.id
             LIMIT $1
            """,
            limit,
            list(SYNC_MATTERS),
        )
        return [dict(r) for r in rows]

    async def sessions_pending_too_long(self, limit: int) -> list[dict[str, Any]]:
        """Started more than a day ago and still not resolved (pending, or rescheduled into the past)."""
        rows = await self._pool.fetch(
            f"""
            SELECT s.updated_at, {_SESSION_CONTEXT}
              FROM scheduled_sessions s JOIN children c ON c.id = s.child_id JOIN coaches co ON co.id = s.coach_id
             WHERE s.status IN ('pending', 'rescheduled')
               AND s.scheduled_at + make_interval(mins => s.duration_minutes) < now() - $2::interval
             ORDER BY s.scheduled_at, s.id
             LIMIT $1
            """,
            limit,
            PENDING_TOO_LONG,
        )
        return [dict(r) for r in rows]

    async def pending_cancellations(
        self, limit: int, *, expiring_within: timedelta | None = None
    ) -> list[dict[str, Any]]:
        """Pending requests, soonest expiry first, with the parent's last answer since the request."""
        rows = await self._pool.fetch(
            f"""
            SELECT s.cancellation_requested_at, s.cancellation_expires_at, s.cancellation_reason, s.updated_at,
                   (SELECT i.choice FROM inbound_messages i
                     WHERE i.matched_session_id = s.id AND i.received_at >= s.cancellation_requested_at
                       AND i.choice IS NOT NULL
                     ORDER BY i.received_at DESC LIMIT 1) AS parent_last_answer,
                   {_SESSION_CONTEXT}
              FROM scheduled_sessions s JOIN children c ON c.id = s.child_id JOIN coaches co ON co.id = s.coach_id
             WHERE s.cancellation_status = 'pending'
               AND ($2::interval IS NULL OR s.cancellation_expires_at < now() + $2::interval)
             ORDER BY s.cancellation_expires_at, s.id
             LIMIT $1
            """,
            limit,
            expiring_within,
        )
        return [dict(r) for r in rows]

    async def overview_by_coach(self) -> list[dict[str, Any]]:
        """Each coach's week (Monday to Sunday in the coach's timezone) by status, and the sessions of
        the last four weeks that count for the completion rate (coach_sessions.progress)."""
        rows = await self._pool.fetch(
            """
            WITH weeks AS (
                SELECT co.id, co.name, co.timezone,
                       date_trunc('week', now() AT TIME ZONE co.timezone) AS week_start
                  FROM coaches co
            )
            SELECT w.id AS coach_id, w.name AS coach_name, w.timezone, w.week_start::date AS week_start,
                   count(s.id) FILTER (WHERE s.in_week AND s.status = 'scheduled') AS scheduled,
                   count(s.id) FILTER (WHERE s.in_week AND s.status = 'completed') AS completed,
                   count(s.id) FILTER (WHERE s.in_week AND s.status = 'missed') AS missed,
                   count(s.id) FILTER (WHERE s.in_week AND s.status IN ('pending', 'rescheduled')) AS pending,
                   count(s.id) FILTER (WHERE s.in_week AND s.status = 'cancelled') AS cancelled,
                   count(s.id) FILTER (WHERE s.in_four_weeks AND s.status = 'completed') AS completed_4w,
                   count(s.id) FILTER (WHERE s.in_four_weeks AND s.status = 'missed') AS missed_4w
              FROM weeks w
              LEFT JOIN LATERAL (
                  SELECT x.id, x.status,
                         (x.scheduled_at AT TIME ZONE w.timezone) >= w.week_start
                           AND (x.scheduled_at AT TIME ZONE w.timezone) < w.week_start + interval '7 days' AS in_week,
                         x.scheduled_at >= now() - interval '28 days' AND x.scheduled_at < now() AS in_four_weeks
                    FROM scheduled_sessions x
                   WHERE x.coach_id = w.id
                     AND x.scheduled_at >= least(now() - interval '28 days', w.week_start AT TIME ZONE w.timezone)
                     AND x.scheduled_at < (w.week_start + interval '7 days') AT TIME ZONE w.timezone
              ) s ON true
             GROUP BY w.id, w.name, w.timezone, w.week_start
             ORDER BY w.name, w.id
            """
        )
        return [dict(r) for r in rows]

    async def recent_actions(self, limit: int) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {_ACTION_COLUMNS} FROM ops_actions ORDER BY created_at DESC, id LIMIT $1", limit
        )
        return [dict(r) for r in rows]

    # ----- actions --------------------------------------------------------------------------------

    async def act_on_message(
        self,
        message_id: UUID,
        action: OpsActionName,
        *,
        admin_id: UUID,
        channel: Channel,
        seen_updated_at: datetime,
        note: str | None,
    ) -> ActionOutcome | None:
        """None: no such message."""
        allowed_from, to_state = MESSAGE_ACTIONS[action]
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT status, updated_at FROM outbound_messages WHERE id = $1 FOR UPDATE", message_id
            )
            if row is None:
                return None
            done = await self._same_request(conn, "message", message_id, action, seen_updated_at)
            if done is not None:
                return ActionOutcome(done, False, row["status"], row["updated_at"])
            if row["updated_at"] != seen_updated_at or row["status"] not in allowed_from:
                return ActionOutcome(None, False, row["status"], row["updated_at"])
            await conn.execute(
                "UPDATE outbound_messages SET status = $2, updated_at = now(),"
                " sent_at = CASE WHEN $2 = 'sent' THEN now() END WHERE id = $1",
                message_id,
                to_state,
            )
            if action == "resend":
                await request_reconciliation(conn, "message", message_id)
            audit = await self._record(
                conn, admin_id, channel, action, "message", message_id, seen_updated_at, row["status"], to_state, note
            )
            current = await conn.fetchrow("SELECT status, updated_at FROM outbound_messages WHERE id = $1", message_id)
            return ActionOutcome(audit, True, current["status"], current["updated_at"])

    async def retry_calendar_sync(
        self, session_id: UUID, *, admin_id: UUID, channel: Channel, seen_updated_at: datetime, note: str | None
    ) -> ActionOutcome | None:
        """Record the retry and ask for the session's workflow to sync (the desk also asks at once)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT calendar_sync_status, status, updated_at FROM scheduled_sessions WHERE id = $1 FOR UPDATE",
                session_id,
            )
            if row is None:
                return None
            done = await self._same_request(conn, "session", session_id, "retry_calendar_sync", seen_updated_at)
            if done is not None:
                return ActionOutcome(done, False, row["calendar_sync_status"], row["updated_at"])
            if (
                row["updated_at"] != seen_updated_at
                or row["calendar_sync_status"] != "failed"
                or row["status"] not in SYNC_MATTERS
            ):
                return ActionOutcome(None, False, row["calendar_sync_status"], row["updated_at"])
            await request_reconciliation(conn, "session", session_id)
            audit = await self._record(
                conn, admin_id, channel, "retry_calendar_sync", "session", session_id, seen_updated_at, "failed",
                "retrying", note,
            )  # fmt: skip
            return ActionOutcome(audit, True, "failed", row["updated_at"])

    async def _same_request(
        self, conn: asyncpg.Connection, kind: str, target_id: UUID, action: str, seen: datetime
    ) -> dict[str, Any] | None:
        row = await conn.fetchrow(
            f"SELECT {_ACTION_COLUMNS} FROM ops_actions"
            " WHERE target_kind = $1 AND target_id = $2 AND action = $3 AND seen_updated_at = $4",
            kind,
            target_id,
            action,
            seen,
        )
        return dict(row) if row else None

    async def _record(
        self,
        conn: asyncpg.Connection,
        admin_id: UUID,
        channel: Channel,
        action: str,
        kind: str,
        target_id: UUID,
        seen: datetime,
        from_state: str,
        to_state: str,
        note: str | None,
    ) -> dict[str, Any]:
        row = await conn.fetchrow(
            "INSERT INTO ops_actions (admin_id, channel, action, target_kind, target_id, seen_updated_at,"
            f" from_state, to_state, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_ACTION_COLUMNS}",
            admin_id,
            channel,
            action,
            kind,
            target_id,
            seen,
            from_state,
            to_state,
            note,
        )
        assert row is not None
        return dict(row)
