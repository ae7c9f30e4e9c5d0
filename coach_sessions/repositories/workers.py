"""Worker liveness: each worker process marks itself alive; readiness reads the newest mark."""

from datetime import timedelta

import asyncpg


class WorkerHeartbeatRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def beat(self, identity: str, task_queue: str) -> None:
        await self._pool.execute(
            "INSERT INTO worker_heartbeats (identity, task_queue, seen_at) VALUES ($1, $2, now())"
            " ON CONFLICT (identity) DO UPDATE SET task_queue = EXCLUDED.task_queue, seen_at = now()",
            identity,
            task_queue,
        )

    async def forget(self, identity: str) -> None:
        await self._pool.execute("DELETE FROM worker_heartbeats WHERE identity = $1", identity)

    async def seen_within(self, task_queue: str, window: timedelta) -> bool:
        return bool(
            await self._pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM worker_heartbeats"
                " WHERE task_queue = $1 AND seen_at > now() - $2::interval)",
                task_queue,
                window,
            )
        )
