"""The read paths' floor: a bare FastAPI app with one asyncpg pool running the service's SQL, no auth,
no models: ``GET /api/sessions?childId=`` (the child, then its sessions with their lock state) and the
stored brief of ``GET /api/coach/session-prep`` (the session, then the brief with its freshness check),
and ``GET /api/coach/agenda`` (its one query, this week)."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import FastAPI, HTTPException

from coach_sessions.db import create_pool
from coach_sessions.repositories.agenda import _AGENDA, _OPEN, _SYNC_IRRELEVANT
from coach_sessions.repositories.briefs import STORED_SQL
from coach_sessions.repositories.sessions import _RESOLVED, _SELECT_WITH_LOCK

LIST_SQL = (
    _SELECT_WITH_LOCK + " WHERE s.child_id = $2 AND ($3::uuid IS NULL OR s.coach_id = $3)"
    " ORDER BY s.session_number, s.scheduled_at, s.id"
)


def create_app() -> FastAPI:
    pools: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pools["db"] = await create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=10)
        yield
        await pools["db"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/sessions")
    async def sessions(childId: UUID, coachId: UUID | None = None) -> dict[str, Any]:
        pool = pools["db"]
        child = await pool.fetchrow("SELECT * FROM children WHERE id = $1", childId)
        if child is None:
            raise HTTPException(404)
        rows = await pool.fetch(LIST_SQL, _RESOLVED, childId, coachId)
        return {"sessions": [dict(r) for r in rows]}

    @app.get("/brief")
    async def brief(sessionId: UUID) -> dict[str, Any]:
        pool = pools["db"]
        if await pool.fetchrow(_SELECT_WITH_LOCK + " WHERE s.id = $2", _RESOLVED, sessionId) is None:
            raise HTTPException(404)
        row = await pool.fetchrow(STORED_SQL, sessionId)
        if row is None:
            raise HTTPException(404)
        return dict(row)

    @app.get("/agenda")
    async def agenda(coachId: UUID) -> dict[str, Any]:
        rows = await pools["db"].fetch(
            _AGENDA, coachId, None, None, datetime.now(UTC), _RESOLVED, _OPEN, _SYNC_IRRELEVANT
        )
        if not rows:
            raise HTTPException(404)
        return {"sessions": [dict(r) for r in rows]}

    return app
