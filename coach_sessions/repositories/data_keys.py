"""Children's data keys (migration 0015): which child a workflow's payloads belong to, and that child's
wrapped key. Read by the payload codec (coach_sessions/data_key_codec.py) of every process that talks to
Temporal; shredded by the erasure's scrub (coach_sessions/repositories/erasures.py).

The codec is built before any process has opened its own pool (the Temporal client comes first), and a
replay or a master-key history never needs the database, so this repository opens its small pool on
first use, one per event loop (asyncpg pools belong to the loop that made them).
"""

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from coach_sessions.db import create_pool

# What each workflow id's uuid names (coach_sessions.temporal.workflow_subject), and how to reach its child.
_CHILD_OF = {
    "child": "SELECT id FROM children WHERE id = $1",
    "session": "SELECT child_id FROM scheduled_sessions WHERE id = $1",
    "enrollment": "SELECT child_id FROM enrollments WHERE id = $1",
    "message": """SELECT coalesce(o.child_id, s.child_id) FROM outbound_messages o
                   LEFT JOIN scheduled_sessions s ON s.id = o.session_id WHERE o.id = $1""",
}
_COLUMNS = "key_id, child_id, wrapping_key_id, wrapped_key, shredded_at"

# Part of the erasure's scrub (same transaction): the wrapped key goes; a child that never had a key
# gets a shredded row, so a payload written for it later cannot get a key either.
SHRED = """
INSERT INTO child_data_keys (key_id, child_id, shredded_at)
VALUES ('dk-' || gen_random_uuid(), $1, now())
ON CONFLICT (child_id) DO UPDATE
   SET wrapped_key = NULL, wrapping_key_id = NULL,
       shredded_at = coalesce(child_data_keys.shredded_at, now())
"""


@dataclass(frozen=True)
class StoredDataKey:
    key_id: str
    child_id: UUID
    wrapping_key_id: str | None
    wrapped_key: bytes | None
    shredded_at: datetime | None


class DataKeyRepository:
    def __init__(self, database_url: str | Callable[[], str]) -> None:
        self._database_url = database_url
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[asyncpg.Pool]] = (
            weakref.WeakKeyDictionary()
        )

    async def _pool(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        task = self._pools.get(loop)
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            dsn = self._database_url if isinstance(self._database_url, str) else self._database_url()
            task = loop.create_task(create_pool(dsn, min_size=0, max_size=4))
            self._pools[loop] = task  # a failed start (PostgreSQL down) is tried again on the next call
        return await asyncio.shield(task)

    async def child_of(self, kind: str, subject_id: UUID) -> UUID | None:
        """The child that a workflow's subject (a session, enrollment, message or child) belongs to."""
        pool = await self._pool()
        child_id: UUID | None = await pool.fetchval(_CHILD_OF[kind], subject_id)
        return child_id

    async def for_child(self, child_id: UUID) -> StoredDataKey | None:
        pool = await self._pool()
        row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM child_data_keys WHERE child_id = $1", child_id)
        return StoredDataKey(**dict(row)) if row else None

    async def by_id(self, key_id: str) -> StoredDataKey | None:
        pool = await self._pool()
        row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM child_data_keys WHERE key_id = $1", key_id)
        return StoredDataKey(**dict(row)) if row else None

    async def create(self, key_id: str, child_id: UUID, wrapping_key_id: str, wrapped_key: bytes) -> StoredDataKey:
        """The child's key: this one, or the one another process stored first (or its shredded row)."""
        pool = await self._pool()
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO child_data_keys (key_id, child_id, wrapping_key_id, wrapped_key)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (child_id) DO NOTHING",
                key_id,
                child_id,
                wrapping_key_id,
                wrapped_key,
            )
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM child_data_keys WHERE child_id = $1", child_id)
        assert row is not None  # inserted now or before; a row is never deleted
        return StoredDataKey(**dict(row))

    async def close(self) -> None:
        task = self._pools.get(asyncio.get_running_loop())
        if task is not None and task.done() and not task.cancelled() and task.exception() is None:
            await task.result().close()
