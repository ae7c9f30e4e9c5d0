"""Liveness (process up) and readiness (Postgres and Temporal reachable)."""

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

router = APIRouter(tags=["health"])
READY_CHECK_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "PostgreSQL or Temporal is not reachable."}},
)
async def readyz(request: Request) -> JSONResponse:
    services = request.app.state.services
    checks: dict[str, str] = {}

    async def database() -> None:
        await services.pool.fetchval("SELECT 1")

    async def temporal() -> None:
        await services.temporal.service_client.check_health()

    for name, check in (("postgres", database), ("temporal", temporal)):
        try:
            await asyncio.wait_for(check(), READY_CHECK_TIMEOUT)
            checks[name] = "ok"
        except Exception as error:  # any failure means "not ready"; say which
            checks[name] = f"unavailable: {type(error).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        status_code=200 if ready else 503,
        content={"status": "ready" if ready else "not_ready", "checks": checks},
    )
