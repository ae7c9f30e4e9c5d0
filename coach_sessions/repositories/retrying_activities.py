"""Activities stuck retrying (migration 0021), written by the worker's interceptor and read by the ops
queue: Temporal itself would need every running workflow described to find them."""

from typing import Any

import asyncpg


class RetryingActivityRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def failed(self, workflow_id: str, activity_id: str, activity_type: str, attempt: int, error: str) -> None:
        await self._pool.execute(
            """
            INSERT INTO retrying_activities (workflow_id, activity_id, activity_type, attempt, last_error)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (workflow_id, activity_id) DO UPDATE
               SET attempt = greatest(retrying_activities.attempt, EXCLUDED.attempt),
                   last_error = EXCLUDED.last_error, updated_at = now()
            """,
            workflow_id,
            activity_id,
            activity_type,
            attempt,
            error[:200],
        )

    async def succeeded(self, workflow_id: str, activity_id: str) -> None:
        await self._pool.execute(
            "DELETE FROM retrying_activities WHERE workflow_id = $1 AND activity_id = $2", workflow_id, activity_id
        )

    async def listed(self, limit: int) -> list[dict[str, Any]]:
        """Still retrying: failed within the last day, most attempts first."""
        rows = await self._pool.fetch(
            "SELECT workflow_id, activity_id, activity_type, attempt, last_error, first_failed_at, updated_at"
            " FROM retrying_activities WHERE updated_at > now() - interval '1 day'"
            " ORDER BY attempt DESC, updated_at DESC LIMIT $1",
            limit,
        )
        return [dict(r) for r in rows]
