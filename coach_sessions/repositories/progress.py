"""Assessments and homework (each written with its learning event in one transaction), and the
dashboard's reads: score series, session and homework counts, recent learning events."""

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from coach_sessions.errors import ErrorCode, NotFound
from coach_sessions.models import Assessment, Homework
from coach_sessions.repositories.learning_events import insert_learning_event
from coach_sessions.statuses import LearningEventType


def _without_same(row: asyncpg.Record) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name != "same"}


class ProgressRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # ----- writes ------------------------------------------------------------------------------

    async def add_assessment(
        self,
        *,
        child_id: UUID,
        coach_id: UUID | None,
        session_id: UUID | None,
        kind: str,
        score: float,
        assessed_at: datetime,
        row_id: UUID | None = None,
        assessed_at_sent: bool = True,
    ) -> tuple[Assessment, bool]:
        """The assessment, and whether it is this request's: with a ``row_id`` (a keyed request) already
        stored, that row and whether it holds what this request sends (``assessed_at`` only if sent)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "INSERT INTO assessments (id, child_id, session_id, kind, score, assessed_at)"
                " VALUES (coalesce($6, gen_random_uuid()), $1, $2, $3, $4, $5)"
                " ON CONFLICT (id) DO NOTHING RETURNING *",
                child_id,
                session_id,
                kind,
                score,
                assessed_at,
                row_id,
            )
            if row is None:  # this key's row exists (committed: a concurrent copy's insert was waited for)
                existing = await conn.fetchrow(
                    "SELECT *, (child_id = $2 AND session_id IS NOT DISTINCT FROM $3 AND kind = $4"
                    " AND score = $5::numeric(5, 2) AND (NOT $7::bool OR assessed_at = $6)) AS same"
                    " FROM assessments WHERE id = $1",
                    row_id,
                    child_id,
                    session_id,
                    kind,
                    score,
                    assessed_at,
                    assessed_at_sent,
                )
                return Assessment.model_validate(_without_same(existing)), bool(existing["same"])
            await insert_learning_event(
                conn,
                child_id=child_id,
                coach_id=coach_id,
                session_id=session_id,
                event_type=LearningEventType.ASSESSMENT,
                event_date=assessed_at,
                event_data={"assessment_id": str(row["id"]), "kind": kind, "score": score},
                content_for_embedding=f"Assessment ({kind}): scored {score:g} out of 100.",
                idempotency_key=f"assessment:{row['id']}",
            )
        return Assessment.model_validate(dict(row)), True

    async def add_homework(
        self,
        *,
        child_id: UUID,
        coach_id: UUID | None,
        session_id: UUID | None,
        title: str,
        due_date: date | None,
        assigned_at: datetime,
        row_id: UUID | None = None,
    ) -> tuple[Homework, bool]:
        """The homework, and whether it is this request's: with a ``row_id`` (a keyed request) already
        stored, that row and whether it holds what this request sends."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "INSERT INTO homework_assignments (id, child_id, session_id, title, due_date, assigned_at)"
                " VALUES (coalesce($6, gen_random_uuid()), $1, $2, $3, $4, $5)"
                " ON CONFLICT (id) DO NOTHING RETURNING *",
                child_id,
                session_id,
                title,
                due_date,
                assigned_at,
                row_id,
            )
            if row is None:  # this key's row exists
                existing = await conn.fetchrow(
                    "SELECT *, (child_id = $2 AND session_id IS NOT DISTINCT FROM $3 AND title = $4"
                    " AND due_date IS NOT DISTINCT FROM $5) AS same FROM homework_assignments WHERE id = $1",
                    row_id,
                    child_id,
                    session_id,
                    title,
                    due_date,
                )
                return Homework.model_validate(_without_same(existing)), bool(existing["same"])
            due = f", due {due_date.isoformat()}" if due_date else ""
            await insert_learning_event(
                conn,
                child_id=child_id,
                coach_id=coach_id,
                session_id=session_id,
                event_type=LearningEventType.HOMEWORK_ASSIGNED,
                event_date=assigned_at,
                event_data={
                    "homework_id": str(row["id"]),
                    "title": title,
                    "due_date": due_date and due_date.isoformat(),
                },
                content_for_embedding=f"Homework assigned: {title}{due}.",
                idempotency_key=f"homework-assigned:{row['id']}",
            )
        return Homework.model_validate(dict(row)), True

    async def complete_homework(self, homework_id: UUID, *, coach_id: UUID | None, at: datetime) -> Homework:
        """Mark done once; completing an already-done item changes nothing and answers it as it is."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE homework_assignments SET completed_at = greatest($2, assigned_at)"
                " WHERE id = $1 AND completed_at IS NULL RETURNING *",
                homework_id,
                at,
            )
            if row is None:
                existing = await conn.fetchrow("SELECT * FROM homework_assignments WHERE id = $1", homework_id)
                if existing is None:
                    raise NotFound("homework", ErrorCode.NOT_FOUND)
                return Homework.model_validate(dict(existing))
            await insert_learning_event(
                conn,
                child_id=row["child_id"],
                coach_id=coach_id,
                session_id=row["session_id"],
                event_type=LearningEventType.HOMEWORK_COMPLETED,
                event_date=row["completed_at"],
                event_data={"homework_id": str(row["id"]), "title": row["title"]},
                content_for_embedding=f"Homework done: {row['title']}.",
                idempotency_key=f"homework-completed:{row['id']}",
            )
        return Homework.model_validate(dict(row))

    # ----- reads -------------------------------------------------------------------------------

    async def get_homework(self, homework_id: UUID) -> Homework | None:
        row = await self._pool.fetchrow("SELECT * FROM homework_assignments WHERE id = $1", homework_id)
        return Homework.model_validate(dict(row)) if row else None

    async def session_child(self, session_id: UUID) -> UUID | None:
        value = await self._pool.fetchval("SELECT child_id FROM scheduled_sessions WHERE id = $1", session_id)
        return value if isinstance(value, UUID) else None

    async def assessments(self, child_id: UUID) -> list[Assessment]:
        rows = await self._pool.fetch(
            "SELECT * FROM assessments WHERE child_id = $1 ORDER BY kind, assessed_at, id", child_id
        )
        return [Assessment.model_validate(dict(r)) for r in rows]

    async def session_counts(self, child_id: UUID) -> dict[str, int]:
        rows = await self._pool.fetch(
            "SELECT status, count(*) AS n FROM scheduled_sessions WHERE child_id = $1 GROUP BY status", child_id
        )
        return {r["status"]: int(r["n"]) for r in rows}

    async def homework(self, child_id: UUID) -> list[Homework]:
        rows = await self._pool.fetch(
            "SELECT * FROM homework_assignments WHERE child_id = $1 ORDER BY assigned_at DESC, id", child_id
        )
        return [Homework.model_validate(dict(r)) for r in rows]

    async def recent_events(self, child_id: UUID, limit: int) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT id, event_type, event_date, session_id, content_for_embedding AS text FROM learning_events"
            " WHERE child_id = $1 ORDER BY event_date DESC, created_at DESC LIMIT $2",
            child_id,
            limit,
        )
        return [dict(r) for r in rows]
