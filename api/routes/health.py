"""Liveness (process up) and readiness (Postgres, Temporal and a worker)."""

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


class ReadinessChecks(BaseModel):
    """Each dependency: "ok", or "unavailable: <ErrorType>"."""

    postgres: str
    temporal: str
    worker: str = Field(description="ok when a worker heartbeat on the task queue is recent.")


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: ReadinessChecks


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "PostgreSQL or Temporal is not reachable, or no worker."}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """200 when actions can be served: Postgres and Temporal answer and a worker polls the task queue
    (its heartbeat is recent); otherwise 503 naming what is missing."""
    checks = await services.readiness.checks()
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        status_code=200 if ready else 503,
        content={"status": "ready" if ready else "not_ready", "checks": checks},
    )
