"""Learning events: every action on a child's sessions leaves one, written inside the action's transaction."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel


async def insert_learning_event(
    conn: asyncpg.Connection,
    *,
    child_id: UUID,
    coach_id: UUID | None,
    session_id: UUID | None,
    event_type: str,
    event_date: datetime,
    event_data: dict[str, Any],
    content_for_embedding: str,
    idempotency_key: str | None,
) -> UUID | None:
    """Insert one event; with an idempotency key already used, insert nothing and return None."""
    return await conn.fetchval(
        """
        INSERT INTO learning_events (child_id, coach_id, session_id, event_type, event_date,
                                     event_data, content_for_embedding, idempotency_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
        """,
        child_id,
        coach_id,
        session_id,
        event_type,
        event_date,
        event_data,
        content_for_embedding,
        idempotency_key,
    )


class LearningEventRecord(BaseModel):
    id: UUID
    child_id: UUID
    coach_id: UUID | None
    session_id: UUID | None
    event_type: str
    event_date: datetime
    event_data: dict[str, Any]
    content: str
    created_at: datetime


_RECORD = (
    "id, child_id, coach_id, session_id, event_type, event_date, event_data,"
    " content_for_embedding AS content, created_at"
)


class LearningEventRepository:
    """Events a coach (or the pages: assessments, homework) adds to a child's record."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(
        self,
        *,
        child_id: UUID,
        coach_id: UUID | None,
        session_id: UUID | None,
        event_type: str,
        event_data: dict[str, Any],
        content: str,
        row_id: UUID | None = None,
    ) -> tuple["LearningEventRecord", bool]:
        """The event, and whether it is this request's: with a ``row_id`` (a keyed request) already
        stored, that event and whether it holds what this request sends."""
        row = await self._pool.fetchrow(
            f"""
            INSERT INTO learning_events (id, child_id, coach_id, session_id, event_type, event_data,
                                         content_for_embedding)
            VALUES (coalesce($7, gen_random_uuid()), $1, $2, $3, $4, $5, $6)
            ON CONFLICT (id) DO NOTHING
            RETURNING {_RECORD}
            """,
            child_id,
            coach_id,
            session_id,
            event_type,
            event_data,
            content,
            row_id,
        )
        if row is None:  # this key's event exists (committed: a concurrent copy's insert was waited for)
            existing = await self._pool.fetchrow(
                f"""
                SELECT {_RECORD},
                       (child_id = $2 AND session_id IS NOT DISTINCT FROM $3 AND event_type = $4
                        AND event_data = $5::jsonb AND content_for_embedding = $6) AS same
                FROM learning_events WHERE id = $1
                """,
                row_id,
                child_id,
                session_id,
                event_type,
                event_data,
                content,
            )
            fields = {name: value for name, value in existing.items() if name != "same"}
            return LearningEventRecord.model_validate(fields), bool(existing["same"])
        return LearningEventRecord.model_validate(dict(row)), True
