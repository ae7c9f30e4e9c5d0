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
    ) -> LearningEventRecord:
        row = await self._pool.fetchrow(
            """
            INSERT INTO learning_events (child_id, coach_id, session_id, event_type, event_data,
                                         content_for_embedding)
            VALUES ($1, $2, $3, $4, $5, $6)
            RETURNING id, child_id, coach_id, session_id, event_type, event_date, event_data,
                      content_for_embedding AS content, created_at
            """,
            child_id,
            coach_id,
            session_id,
            event_type,
            event_data,
            content,
        )
        return LearningEventRecord.model_validate(dict(row))
