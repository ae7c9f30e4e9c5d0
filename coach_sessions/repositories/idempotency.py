"""Idempotency-Key: a key claimed before its action runs, then the action's outcome, kept per caller and key.

A row is ``claimed`` (by the request holding its ``claim_token``, until ``lease_until``) or ``done``
(``outcome`` kept for every retry); migrations/0007_idempotency_claims.sql holds the invariant.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg


@dataclass(frozen=True)
class KeyRow:
    """What the key holds now: whose request (its fingerprint), and its outcome once ``done``."""

    fingerprint: str
    state: str  # 'claimed' | 'done'
    outcome: dict[str, Any] | None


class IdempotencyRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(self, principal_id: UUID, key: str, fingerprint: str, *, lease: timedelta) -> UUID | None:
        """Claim a new key for this request: its claim token, or None when the key is already there."""
        return await self._pool.fetchval(  # type: ignore[no-any-return]
            "INSERT INTO api_idempotency_keys (principal_id, key, fingerprint, state, claim_token, lease_until)"
            " VALUES ($1, $2, $3, 'claimed', $4, now() + $5::interval)"
            " ON CONFLICT (principal_id, key) DO NOTHING RETURNING claim_token",
            principal_id,
            key,
            fingerprint,
            uuid4(),
            lease,
        )

    async def take_over(self, principal_id: UUID, key: str, fingerprint: str, *, lease: timedelta) -> UUID | None:
        """Take over this request's claim once its lease has run out (its holder died): a new token,
        or None when the claim is live, done or another request's. Two takers: the row lock lets one."""
        return await self._pool.fetchval(  # type: ignore[no-any-return]
            "UPDATE api_idempotency_keys SET claim_token = $4, lease_until = now() + $5::interval"
            " WHERE principal_id = $1 AND key = $2 AND fingerprint = $3"
            "   AND state = 'claimed' AND lease_until < now()"
            " RETURNING claim_token",
            principal_id,
            key,
            fingerprint,
            uuid4(),
            lease,
        )

    async def get(self, principal_id: UUID, key: str) -> KeyRow | None:
        row = await self._pool.fetchrow(
            "SELECT fingerprint, state, outcome FROM api_idempotency_keys WHERE principal_id = $1 AND key = $2",
            principal_id,
            key,
        )
        return KeyRow(row["fingerprint"], row["state"], row["outcome"]) if row else None

    async def finish(self, principal_id: UUID, key: str, token: UUID, outcome: dict[str, Any]) -> bool:
        """Keep the outcome of the claim ``token`` holds; False when that claim is no longer its own."""
        done = await self._pool.fetchval(
            "UPDATE api_idempotency_keys SET state = 'done', outcome = $4, claim_token = NULL, lease_until = NULL"
            " WHERE principal_id = $1 AND key = $2 AND claim_token = $3 AND state = 'claimed'"
            " RETURNING true",
            principal_id,
            key,
            token,
            outcome,
        )
        return bool(done)

    async def release(self, principal_id: UUID, key: str, token: UUID) -> None:
        """Give the key up (nothing is kept): the next request with it runs the action again."""
        await self._pool.execute(
            "DELETE FROM api_idempotency_keys WHERE principal_id = $1 AND key = $2 AND claim_token = $3"
            " AND state = 'claimed'",
            principal_id,
            key,
            token,
        )
