"""A family's link version (migration 0016) and the family's children, as a family link sees them."""

from typing import Any
from uuid import UUID

import asyncpg


class FamilyLinkRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def version(self, parent_id: UUID) -> int | None:
        """The family's current link version; None: no such parent."""
        version: int | None = await self._pool.fetchval(
            "SELECT family_link_version FROM parents WHERE id = $1", parent_id
        )
        return version

    async def rotate(self, parent_id: UUID) -> int | None:
        """Revoke every link of the family: the new version, or None when there is no such parent."""
        version: int | None = await self._pool.fetchval(
            "UPDATE parents SET family_link_version = family_link_version + 1 WHERE id = $1"
            " RETURNING family_link_version",
            parent_id,
        )
        return version

    async def children(self, parent_id: UUID) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            """
            SELECT c.id, c.name, c.age, e.requested_at AS erasure_requested_at, e.completed_at AS erased_at
              FROM children c LEFT JOIN child_erasures e ON e.child_id = c.id
             WHERE c.parent_id = $1 ORDER BY c.created_at, c.id
            """,
            parent_id,
        )
        return [dict(r) for r in rows]

    async def is_familys_child(self, parent_id: UUID, child_id: UUID) -> bool:
        return bool(
            await self._pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM children WHERE id = $1 AND parent_id = $2)", child_id, parent_id
            )
        )
