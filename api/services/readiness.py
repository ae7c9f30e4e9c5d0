"""Readiness: can this API serve actions now? Postgres, Temporal, and a worker polling the task queue."""

import asyncio
from datetime import timedelta

import asyncpg
from temporalio.client import Client

from coach_sessions.repositories.workers import WorkerHeartbeatRepository

CHECK_TIMEOUT_SECONDS = 2.0


class NoWorkerError(Exception):
    pass


class ReadinessService:
    def __init__(self, pool: asyncpg.Pool, temporal: Client, task_queue: str, *, worker_stale_after: timedelta) -> None:
        self._pool = pool
        self._temporal = temporal
        self._heartbeats = WorkerHeartbeatRepository(pool)
        self._task_queue = task_queue
        self._worker_stale_after = worker_stale_after

    async def checks(self) -> dict[str, str]:
        """``{"postgres": "ok", "temporal": "ok", "worker": "ok"}``, or what is unavailable and why."""
        results: dict[str, str] = {}
        for name, check in (("postgres", self._postgres), ("temporal", self._temporal_up), ("worker", self._worker)):
            try:
                await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
                results[name] = "ok"
            except Exception as error:  # any failure means "not ready"; say which
                results[name] = f"unavailable: {type(error).__name__}"
        return results

    async def _postgres(self) -> None:
        await self._pool.fetchval("SELECT 1")

    async def _temporal_up(self) -> None:
        await self._temporal.service_client.check_health()

    async def _worker(self) -> None:
        if not await self._heartbeats.seen_within(self._task_queue, self._worker_stale_after):
            raise NoWorkerError(f"no worker has polled {self._task_queue!r} recently")
