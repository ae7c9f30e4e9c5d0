"""Workflows to reconcile with their rows (table ``workflow_reconciliations``, migration 0008)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import asyncpg

# message: a resent (or ending's) message's delivery; reassignment: its workflow's start.
ReconcileKind = Literal["session", "enrollment", "message", "reassignment"]
# An enrollment's API call starts its workflow itself; the reconciler steps in only after this.
ENROLLMENT_START_GRACE = timedelta(seconds=10)

_REQUEST = """
INSERT INTO workflow_reconciliations (kind, target_id, due_at)
VALUES ($1, $2, clock_timestamp() + $3::interval)
ON CONFLICT (kind, target_id) DO UPDATE
   SET requested_at = clock_timestamp(),
       due_at = least(workflow_reconciliations.due_at, EXCLUDED.due_at)
"""


@dataclass(frozen=True)
class Reconciliation:
    kind: ReconcileKind
    target_id: UUID
    requested_at: datetime
    attempts: int


async def request_reconciliation(
    conn: asyncpg.Connection | asyncpg.Pool, kind: ReconcileKind, target_id: UUID, after: timedelta = timedelta(0)
) -> None:
    """Ask for ``target_id``'s workflow to be reconciled ``after`` from now (inside the caller's
    transaction when given a connection). Asking again keeps one row and the earlier due time."""
    await conn.execute(_REQUEST, kind, target_id, after)


class ReconciliationRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def request(self, kind: ReconcileKind, target_id: UUID, after: timedelta = timedelta(0)) -> None:
        await request_reconciliation(self._pool, kind, target_id, after)

    async def forget(self, kind: ReconcileKind, target_id: UUID) -> None:
        """The workflow is known to agree (an enrollment's workflow started): nothing left to do."""
        await self._pool.execute(
            "DELETE FROM workflow_reconciliations WHERE kind = $1 AND target_id = $2", kind, target_id
        )

    @asynccontextmanager
    async def take_due(self, limit: int) -> AsyncIterator[tuple[asyncpg.Connection, list[Reconciliation]]]:
        """The due rows, locked for this transaction (another API process skips them)."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT kind, target_id, requested_at, attempts FROM workflow_reconciliations"
                " WHERE due_at <= clock_timestamp() ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                limit,
            )
            yield conn, [Reconciliation(r["kind"], r["target_id"], r["requested_at"], r["attempts"]) for r in rows]

    @staticmethod
    async def done(conn: asyncpg.Connection, item: Reconciliation) -> None:
        """Delete the row unless it was asked for again after this pass read it."""
        await conn.execute(
            "DELETE FROM workflow_reconciliations WHERE kind = $1 AND target_id = $2 AND requested_at = $3",
            item.kind,
            item.target_id,
            item.requested_at,
        )

    @staticmethod
    async def retry_later(conn: asyncpg.Connection, item: Reconciliation, after: timedelta, error: str) -> None:
        await conn.execute(
            "UPDATE workflow_reconciliations SET attempts = attempts + 1, due_at = clock_timestamp() + $3::interval,"
            " last_error = $4 WHERE kind = $1 AND target_id = $2",
            item.kind,
            item.target_id,
            after,
            error[:1000],
        )

    async def pending(self) -> int:
        return int(await self._pool.fetchval("SELECT count(*) FROM workflow_reconciliations"))
