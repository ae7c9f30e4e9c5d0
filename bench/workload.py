"""Test data and clients for the figures: families and sessions written in SQL (tests/factories.py),
session workflows started ahead of an action (so an action meets a running workflow, as in production)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from temporalio.client import Client

from coach_sessions.auth import mint_token
from coach_sessions.contracts import SessionWorkflowInput
from coach_sessions.models import Coach
from coach_sessions.statuses import Role
from coach_sessions.temporal import session_workflow_id
from tests.factories import Family, make_family, make_sessions
from workflows.session import SessionWorkflow

TASK_QUEUE = "coach-sessions"


@dataclass
class Target:
    """One session an action will be sent to, with what the caller needs."""

    session_id: UUID
    family: Family
    token: str


def now() -> datetime:
    return datetime.now(UTC)


def token(secret: str, subject: UUID, role: Role = Role.COACH) -> str:
    return mint_token(secret, subject, role, timedelta(hours=6))


async def make_targets(
    pool: asyncpg.Pool, secret: str, count: int, *, started: bool, coach: Coach | None = None
) -> list[Target]:
    """``count`` families with one session each: begun 10 minutes ago (complete, missed) or in two days
    (reschedule, request-cancel). One coach for all, as a coach's own list would be."""
    start = now() - timedelta(minutes=10) if started else now() + timedelta(days=2)
    targets = []
    for _ in range(count):
        family = await make_family(pool, coach=coach)
        coach = family.coach
        (session_id,) = await make_sessions(pool, family, [start])
        targets.append(Target(session_id, family, token(secret, family.coach.id)))
    return targets


async def start_session_workflows(
    client: Client, pool: asyncpg.Pool, targets: list[Target], task_queue: str = TASK_QUEUE
) -> None:
    """Start each session's workflow and wait until it has loaded and its calendar sync has settled."""
    for target in targets:
        await client.start_workflow(
            SessionWorkflow.run,
            SessionWorkflowInput(session_id=target.session_id),
            id=session_workflow_id(target.session_id),
            task_queue=task_queue,
        )
    ids = [t.session_id for t in targets]
    await until(
        lambda: pool.fetchval(
            "SELECT count(*) = $2 FROM scheduled_sessions WHERE id = ANY($1) AND calendar_sync_status = 'synced'",
            ids,
            len(ids),
        ),
        within=120,
    )


async def until(check: Callable[[], Awaitable[Any]], *, within: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {within}s (last: {result!r})")
        await asyncio.sleep(interval)


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await call()
    return (time.perf_counter() - started) * 1000, result


def check(response: httpx.Response, *expected: int) -> httpx.Response:
    if response.status_code not in expected:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} → {response.status_code}: {response.text}"
        )
    return response
