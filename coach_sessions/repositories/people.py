"""Coaches, parents and children."""

from uuid import UUID

import asyncpg

from coach_sessions.errors import DomainError, ErrorCode, NotFound
from coach_sessions.models import Child, Coach, Parent

# The columns an admin may change, per table (api/schemas.py: EditCoach, EditParent, EditChild).
_EDITABLE = {
    "coaches": {"name", "email", "phone", "calendar_id", "timezone"},
    "parents": {"name", "phone", "email", "timezone"},
    "children": {"name", "age"},
}


class PeopleRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create_coach(
        self, *, name: str, email: str, phone: str | None, calendar_id: str | None, timezone: str
    ) -> Coach:
        try:
            row = await self._pool.fetchrow(
                "INSERT INTO coaches (name, email, phone, calendar_id, timezone)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING *",
                name,
                email,
                phone,
                calendar_id,
                timezone,
            )
        except asyncpg.UniqueViolationError as exc:
            raise DomainError(ErrorCode.CONFLICT, "A coach with this email already exists.") from exc
        return Coach.model_validate(dict(row))

    async def create_parent(self, *, name: str, phone: str, email: str | None, timezone: str | None = None) -> Parent:
        try:
            row = await self._pool.fetchrow(
                "INSERT INTO parents (name, phone, email, timezone) VALUES ($1, $2, $3, $4) RETURNING *",
                name,
                phone,
                email,
                timezone,
            )
        except asyncpg.UniqueViolationError as exc:
            raise DomainError(ErrorCode.CONFLICT, "A parent with this phone already exists.") from exc
        return Parent.model_validate(dict(row))

    async def create_child(self, *, name: str, age: int, parent_id: UUID, coach_id: UUID) -> Child:
        try:
            row = await self._pool.fetchrow(
                "INSERT INTO children (name, age, parent_id, coach_id) VALUES ($1, $2, $3, $4) RETURNING *",
                name,
                age,
                parent_id,
                coach_id,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            which = "parent" if "parent" in (exc.constraint_name or "") else "coach"
            raise NotFound(which, ErrorCode.NOT_FOUND) from exc
        return Child.model_validate(dict(row))

    async def update_coach(self, coach_id: UUID, changes: dict[str, object]) -> Coach | None:
        """Set the given columns (name, email, phone, calendar_id, timezone); None: no such coach."""
        try:
            row = await self._update("coaches", coach_id, changes)
        except asyncpg.UniqueViolationError as exc:
            raise DomainError(ErrorCode.CONFLICT, "A coach with this email already exists.") from exc
        return Coach.model_validate(dict(row)) if row else None

    async def update_parent(self, parent_id: UUID, changes: dict[str, object]) -> Parent | None:
        try:
            row = await self._update("parents", parent_id, changes)
        except asyncpg.UniqueViolationError as exc:
            raise DomainError(ErrorCode.CONFLICT, "A parent with this phone already exists.") from exc
        return Parent.model_validate(dict(row)) if row else None

    async def update_child(self, child_id: UUID, changes: dict[str, object]) -> Child | None:
        row = await self._update("children", child_id, changes)
        return Child.model_validate(dict(row)) if row else None

    async def _update(self, table: str, row_id: UUID, changes: dict[str, object]) -> asyncpg.Record | None:
        assert table in _EDITABLE and set(changes) <= _EDITABLE[table], changes  # column names come from here
        if not changes:
            return await self._pool.fetchrow(f"SELECT * FROM {table} WHERE id = $1", row_id)
        assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
        return await self._pool.fetchrow(
            f"UPDATE {table} SET {assignments} WHERE id = $1 RETURNING *", row_id, *changes.values()
        )

    async def deactivate(self, table: str, row_id: UUID) -> asyncpg.Record | None:
        """Deactivate a coach or a parent (once: a second call keeps the first time); None: no such row."""
        assert table in ("coaches", "parents")
        return await self._pool.fetchrow(
            f"UPDATE {table} SET deactivated_at = coalesce(deactivated_at, now()) WHERE id = $1 RETURNING *", row_id
        )

    async def list_parents(self) -> list[Parent]:
        rows = await self._pool.fetch("SELECT * FROM parents ORDER BY name, id")
        return [Parent.model_validate(dict(r)) for r in rows]

    async def get_coach(self, coach_id: UUID) -> Coach | None:
        row = await self._pool.fetchrow("SELECT * FROM coaches WHERE id = $1", coach_id)
        return Coach.model_validate(dict(row)) if row else None

    async def list_coaches(self, coach_id: UUID | None) -> list[Coach]:
        rows = await self._pool.fetch(
            "SELECT * FROM coaches WHERE ($1::uuid IS NULL OR id = $1) ORDER BY name, id", coach_id
        )
        return [Coach.model_validate(dict(r)) for r in rows]

    async def find_coach_by_email(self, email: str) -> Coach | None:
        row = await self._pool.fetchrow("SELECT * FROM coaches WHERE lower(email) = lower($1)", email)
        return Coach.model_validate(dict(row)) if row else None

    async def get_child(self, child_id: UUID) -> Child | None:
        row = await self._pool.fetchrow(
            "SELECT c.*, EXISTS (SELECT 1 FROM child_erasures e WHERE e.child_id = c.id) AS erased"
            " FROM children c WHERE c.id = $1",
            child_id,
        )
        return Child.model_validate(dict(row)) if row else None

    async def list_children(self, coach_id: UUID | None) -> list[Child]:
        rows = await self._pool.fetch(
            "SELECT * FROM children WHERE ($1::uuid IS NULL OR coach_id = $1) ORDER BY name, id",
            coach_id,
        )
        return [Child.model_validate(dict(r)) for r in rows]
