"""Idempotency-Key: the first outcome of an action, kept per caller and key, returned to its retries."""

from typing import Any
from uuid import UUID

import asyncpg


class IdempotencyRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, principal_id: UUID, key: str) -> tuple[str, dict[str, Any]] | None:
        """The stored (fingerprint, outcome) for this caller's key, if any."""
        row = await self._pool.fetchrow(
            "SELECT fingerprint, outcome FROM api_idempotency_keys WHERE principal_id = $1 AND key = $2",
            principal_id,
            key,
        )
        return (row["fingerprint"], row["outcome"]) if row else None

    async def save(self, principal_id: UUID, key: str, fingerprint: str, outcome: dict[str, Any]) -> None:
        """Keep the first outcome: a concurrent twin that finished first wins, this one is dropped."""
        await self._pool.execute(
            "INSERT INTO api_idempotency_keys (principal_id, key, fingerprint, outcome) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (principal_id, key) DO NOTHING",
            principal_id,
            key,
            fingerprint,
            outcome,
        )
