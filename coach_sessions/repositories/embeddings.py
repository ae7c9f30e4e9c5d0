"""Stored vectors of learning events, one row per (event, model); only events missing one get embedded."""

import re
from uuid import UUID

import asyncpg

from coach_sessions.providers.embeddings import Vector


def vector_literal(vector: Vector) -> str:
    """pgvector's text form; passed as text and cast in SQL (asyncpg has no vector codec)."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def dimensions_of(model: str) -> int:
    return int(model.rsplit(":", 1)[1])


class EmbeddingRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def missing(self, model: str, *, child_id: UUID | None = None, limit: int = 256) -> list[asyncpg.Record]:
        """Events without a vector from ``model`` (oldest first), for one child or all."""
        return await self._pool.fetch(
            """
            SELECT l.id, l.child_id, l.content_for_embedding AS text
              FROM learning_events l
             WHERE ($2::uuid IS NULL OR l.child_id = $2)
               AND NOT EXISTS (SELECT 1 FROM learning_event_embeddings e WHERE e.event_id = l.id AND e.model = $1)
             ORDER BY l.created_at, l.id
             LIMIT $3
            """,
            model,
            child_id,
            limit,
        )

    async def count_missing(self, model: str) -> int:
        return int(
            await self._pool.fetchval(
                "SELECT count(*) FROM learning_events l WHERE NOT EXISTS"
                " (SELECT 1 FROM learning_event_embeddings e WHERE e.event_id = l.id AND e.model = $1)",
                model,
            )
        )

    async def store(self, model: str, rows: list[tuple[UUID, UUID, Vector]]) -> int:
        """Store (event id, child id, vector) rows; a vector already stored is kept (idempotent)."""
        if not rows:
            return 0
        result = await self._pool.fetch(
            """
            INSERT INTO learning_event_embeddings (event_id, model, child_id, embedding)
            SELECT u.event_id, $1, u.child_id, u.embedding::vector
              FROM unnest($2::uuid[], $3::uuid[], $4::text[]) AS u(event_id, child_id, embedding)
            ON CONFLICT (event_id, model) DO NOTHING
            RETURNING event_id
            """,
            model,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [vector_literal(r[2]) for r in rows],
        )
        return len(result)

    async def ensure_index(self, model: str) -> None:
        """The model's partial HNSW index (0004 creates those of the two shipped models)."""
        dims = dimensions_of(model)
        slug = re.sub(r"[^a-z0-9]+", "_", model.lower())[:40]
        literal = model.replace("'", "")
        await self._pool.execute(
            f"CREATE INDEX IF NOT EXISTS lee_{slug}_hnsw ON learning_event_embeddings"
            f" USING hnsw ((embedding::vector({dims})) vector_cosine_ops) WHERE model = '{literal}'"
        )
