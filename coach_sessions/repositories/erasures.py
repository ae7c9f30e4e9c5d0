"""Erasing a child (docs/security.md, "Erasure"): the erasure's row, what to end and remove, the scrub.

Every method is safe to run twice: the row is inserted once (``ON CONFLICT DO NOTHING``), the scrub's
statements write constants (a second run changes nothing) and run in one transaction, which also marks
the erasure completed, so a crash leaves either nothing or everything scrubbed.
"""

from typing import Any
from uuid import UUID

import asyncpg

from coach_sessions.models import ChildErasure
from coach_sessions.repositories.data_keys import SHRED as _SHRED_DATA_KEY
from coach_sessions.temporal import (
    consent_workflow_id,
    embed_events_workflow_id,
    enrollment_workflow_id,
    message_delivery_workflow_id,
    session_brief_workflow_id,
    session_workflow_id,
)

ERASED_CHILD_NAME = "Erased child"
ERASED_PARENT_NAME = "Erased parent"
ERASED_TEXT = "Erased"
ERASED_PHONE_PREFIX = "+999"  # + eleven digits of the sequence erased_phone_numbers (migration 0014)

_SESSIONS = "SELECT id FROM scheduled_sessions WHERE child_id = $1"
_COLUMNS = "child_id, requested_by, requested_at, completed_at"

# The scrub, in order ($1 the child's id). The parent goes first (only when the child is their last
# one not erased), so that messages to the parent can take the parent's placeholder number.
_PARENT = f"""
UPDATE parents p
   SET name = '{ERASED_PARENT_NAME}', email = NULL,
       phone = '{ERASED_PHONE_PREFIX}' || lpad(nextval('erased_phone_numbers')::text, 11, '0'),
       family_link_version = p.family_link_version + 1  -- the erased family's links stop working
  FROM children c
 WHERE c.id = $1 AND p.id = c.parent_id AND p.phone NOT LIKE '{ERASED_PHONE_PREFIX}%'
   AND NOT EXISTS (SELECT 1 FROM children other
                    WHERE other.parent_id = p.id AND other.id <> $1
                      AND NOT EXISTS (SELECT 1 FROM child_erasures e WHERE e.child_id = other.id))
"""
_STATEMENTS = (
    f"UPDATE children SET name = '{ERASED_CHILD_NAME}' WHERE id = $1",
    "UPDATE enrollments SET status = 'ended' WHERE child_id = $1 AND status <> 'ended'",
    # What a session keeps for accounting: its number, date, status, duration (and ids, the link).
    # A session that has not happened will not: it is cancelled (a pending request with it), so an
    # action on it is refused as on any finished session instead of starting its workflow again.
    f"""UPDATE scheduled_sessions
           SET status = CASE WHEN status IN ('scheduled', 'pending', 'rescheduled') THEN 'cancelled' ELSE status END,
               cancellation_status = CASE WHEN cancellation_status = 'pending' THEN 'none' ELSE cancellation_status END,
               cancellation_requested_at = CASE WHEN cancellation_status = 'pending' THEN NULL
                                                ELSE cancellation_requested_at END,
               cancellation_expires_at = CASE WHEN cancellation_status = 'pending' THEN NULL
                                              ELSE cancellation_expires_at END,
               coach_notes = NULL, calendar_sync_error = NULL,
               cancellation_reason = CASE WHEN cancellation_reason IS NULL THEN NULL ELSE '{ERASED_TEXT}' END,
               updated_at = now(), version = version + 1
         WHERE child_id = $1""",
    f"""UPDATE learning_events SET content_for_embedding = '{ERASED_TEXT}', event_data = '{{}}'::jsonb,
               embedding = NULL
         WHERE child_id = $1""",
    "DELETE FROM learning_event_embeddings WHERE child_id = $1",
    f"UPDATE homework_assignments SET title = '{ERASED_TEXT}' WHERE child_id = $1",
    "DELETE FROM session_briefs WHERE child_id = $1",
    f"""UPDATE outbound_messages o
           SET template_params = '[]'::jsonb, user_name = '', last_error = NULL,
               destination = CASE WHEN o.recipient_role = 'parent'
                                  THEN (SELECT p.phone FROM children c JOIN parents p ON p.id = c.parent_id
                                         WHERE c.id = $1)
                                  ELSE o.destination END
         WHERE o.child_id = $1 OR o.session_id IN ({_SESSIONS})""",
    f"""UPDATE inbound_messages
           SET payload = '{{"erased": true}}'::jsonb, from_phone = 'erased', button_text = NULL
         WHERE matched_session_id IN ({_SESSIONS}) OR from_phone = ANY($2::text[])""",
    f"""UPDATE local_calendar_events SET summary = '{ERASED_TEXT}'
         WHERE event_id IN (SELECT google_event_id FROM scheduled_sessions
                             WHERE child_id = $1 AND google_event_id IS NOT NULL)""",
    # Stored answers of keyed requests that name the child or one of its sessions.
    f"""DELETE FROM api_idempotency_keys
         WHERE outcome IS NOT NULL
           AND (strpos(outcome::text, $1::uuid::text) > 0
                OR EXISTS (SELECT 1 FROM ({_SESSIONS}) s WHERE strpos(outcome::text, s.id::text) > 0))""",
    # Crypto-shredding: the child's Temporal histories (and their backups) stop decrypting.
    _SHRED_DATA_KEY,
)
# The numbers the parent's replies came from, read before the parent is scrubbed (their replies about
# a sibling stay when the parent stays: then this is empty and only this child's sessions' replies go).
_ERASED_PARENT_PHONE = f"""
SELECT p.phone FROM children c JOIN parents p ON p.id = c.parent_id
 WHERE c.id = $1 AND p.phone NOT LIKE '{ERASED_PHONE_PREFIX}%'
   AND NOT EXISTS (SELECT 1 FROM children other
                    WHERE other.parent_id = p.id AND other.id <> $1
                      AND NOT EXISTS (SELECT 1 FROM child_erasures e WHERE e.child_id = other.id))
"""


class ErasureRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def child_exists(self, child_id: UUID) -> bool:
        return bool(await self._pool.fetchval("SELECT EXISTS (SELECT 1 FROM children WHERE id = $1)", child_id))

    async def get(self, child_id: UUID) -> ChildErasure | None:
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM child_erasures WHERE child_id = $1", child_id)
        return ChildErasure.model_validate(dict(row)) if row else None

    async def record(self, child_id: UUID, requested_by: UUID) -> tuple[ChildErasure, bool]:
        """The erasure's row, and whether this call created it (False: asked for before)."""
        row = await self._pool.fetchrow(
            f"INSERT INTO child_erasures (child_id, requested_by) VALUES ($1, $2)"
            f" ON CONFLICT (child_id) DO NOTHING RETURNING {_COLUMNS}",
            child_id,
            requested_by,
        )
        if row is not None:
            return ChildErasure.model_validate(dict(row)), True
        existing = await self.get(child_id)
        assert existing is not None  # a row is never deleted
        return existing, False

    async def workflow_ids(self, child_id: UUID) -> list[str]:
        """Every workflow that may run for the child, by the ids of coach_sessions/temporal.py: the
        enrollments' first (they start session workflows), then the sessions', their consent children
        and briefs, the deliveries of the child's messages, the child's embedding."""
        enrollments = await self._pool.fetch("SELECT id FROM enrollments WHERE child_id = $1 ORDER BY id", child_id)
        sessions = await self._pool.fetch(
            "SELECT id, cancellation_request_count, consent_workflow_id FROM scheduled_sessions"
            " WHERE child_id = $1 ORDER BY session_number, id",
            child_id,
        )
        messages = await self._pool.fetch(
            f"SELECT id, consent_workflow_id FROM outbound_messages WHERE child_id = $1 OR session_id IN ({_SESSIONS})"
            " ORDER BY id",
            child_id,
        )
        ids = [enrollment_workflow_id(e["id"]) for e in enrollments]
        for s in sessions:
            ids.append(session_workflow_id(s["id"]))
            ids.extend(consent_workflow_id(s["id"], n) for n in range(1, s["cancellation_request_count"] + 1))
            ids.append(s["consent_workflow_id"])
            ids.append(session_brief_workflow_id(s["id"]))
        for m in messages:
            ids.extend((message_delivery_workflow_id(m["id"]), m["consent_workflow_id"]))
        ids.append(embed_events_workflow_id(child_id))
        return list(dict.fromkeys(i for i in ids if i))

    async def forget_reconciliations(self, child_id: UUID) -> None:
        """No reconciliation may start an ended workflow again."""
        await self._pool.execute(
            f"DELETE FROM workflow_reconciliations WHERE target_id IN ({_SESSIONS})"
            " OR target_id IN (SELECT id FROM enrollments WHERE child_id = $1)",
            child_id,
        )

    async def calendar_events(self, child_id: UUID) -> list[dict[str, Any]]:
        """The child's sessions that have a calendar event, with where the event lives."""
        rows = await self._pool.fetch(
            """
            SELECT s.id, s.google_event_id, co.calendar_id, co.email AS coach_email
              FROM scheduled_sessions s JOIN coaches co ON co.id = s.coach_id
             WHERE s.child_id = $1 AND s.google_event_id IS NOT NULL
             ORDER BY s.session_number, s.id
            """,
            child_id,
        )
        return [dict(r) for r in rows]

    async def scrub(self, child_id: UUID) -> bool:
        """Replace or delete the child's personal data in one transaction and mark the erasure
        completed. False when it was completed before (nothing written)."""
        async with self._pool.acquire() as conn, conn.transaction():
            completed = await conn.fetchval(
                "SELECT completed_at FROM child_erasures WHERE child_id = $1 FOR UPDATE", child_id
            )
            if completed is not None:
                return False
            phones = [r["phone"] for r in await conn.fetch(_ERASED_PARENT_PHONE, child_id)]
            await conn.execute(_PARENT, child_id)
            for statement in _STATEMENTS:
                if "$2" in statement:
                    await conn.execute(statement, child_id, phones)
                else:
                    await conn.execute(statement, child_id)
            await conn.execute("UPDATE child_erasures SET completed_at = now() WHERE child_id = $1", child_id)
            return True
