"""Everything held about one child, as stored: the export a parent's access request gets (issue 22).

One query per table, each row as its JSON (``to_jsonb``), so a column added later is exported without
a change here. Left out, because they are derived from what is exported and say nothing new: the text
search vector and the embeddings of learning events (numbers computed from their text).
"""

from typing import Any
from uuid import UUID

import asyncpg

_SESSIONS = "SELECT id FROM scheduled_sessions WHERE child_id = $1"

# (name in the export, query taking the child's id, the parent's phone as $2 where needed)
_PARTS: dict[str, str] = {
    "enrollments": "SELECT to_jsonb(e) FROM enrollments e WHERE child_id = $1 ORDER BY created_at, id",
    "sessions": "SELECT to_jsonb(s) FROM scheduled_sessions s WHERE child_id = $1 ORDER BY session_number, id",
    "learning_events": (
        "SELECT to_jsonb(l) - 'search_vector' - 'embedding' FROM learning_events l"
        " WHERE child_id = $1 ORDER BY event_date, id"
    ),
    "assessments": "SELECT to_jsonb(a) FROM assessments a WHERE child_id = $1 ORDER BY assessed_at, id",
    "homework": "SELECT to_jsonb(h) FROM homework_assignments h WHERE child_id = $1 ORDER BY assigned_at, id",
    "briefs": "SELECT to_jsonb(b) FROM session_briefs b WHERE child_id = $1 ORDER BY generated_at, session_id",
    "messages_sent": (
        "SELECT to_jsonb(o) FROM outbound_messages o"
        f" WHERE child_id = $1 OR session_id IN ({_SESSIONS}) ORDER BY created_at, id"
    ),
    # The parent's own WhatsApp replies (from their number, or matched to this child's sessions).
    "messages_received": (
        "SELECT to_jsonb(i) FROM inbound_messages i"
        f" WHERE from_phone = $2 OR matched_session_id IN ({_SESSIONS}) ORDER BY received_at, id"
    ),
}


class ChildRecordRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def export(self, child_id: UUID) -> dict[str, Any] | None:
        """None when there is no such child. One transaction (repeatable read): one instant's record."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            child = await conn.fetchval("SELECT to_jsonb(c) FROM children c WHERE id = $1", child_id)
            if child is None:
                return None
            parent = await conn.fetchval("SELECT to_jsonb(p) FROM parents p WHERE id = $1", child["parent_id"])
            record: dict[str, Any] = {"child": child, "parent": parent}
            for name, query in _PARTS.items():
                args = (child_id, parent["phone"]) if "$2" in query else (child_id,)
                record[name] = [row[0] for row in await conn.fetch(query, *args)]
            record["exported_at"] = await conn.fetchval("SELECT now()")
            return record
