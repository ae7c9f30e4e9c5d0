"""Small helpers the scenarios share: probing /readyz, timing, waiting in the background, finishing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.faults.cluster import Cluster
from tests.faults.invariants import Report


async def readyz(cluster: Cluster) -> tuple[int | None, float]:
    """(/readyz status or None when unanswered within 20 s, seconds taken)."""
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=20.0) as http:
            status: int | None = (await http.get(f"{cluster.api_url}/readyz")).status_code
    except httpx.HTTPError:
        status = None
    return status, time.monotonic() - started


async def seconds_until_readyz(cluster: Cluster, want: int, *, within: float) -> float | None:
    """Seconds until /readyz answers ``want`` (polled every 0.25 s); None if not within the bound."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        status, _ = await readyz(cluster)
        if status == want:
            return round(time.monotonic() - started, 2)
        await asyncio.sleep(0.25)
    return None


async def wait_for(check: Callable[[], Any], *, within: float, interval: float = 0.05) -> bool:
    """Poll a synchronous check (e.g. a fake's request count); False if not true within the bound."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(interval)
    return False


async def wait_db(check: Callable[[], Awaitable[Any]], *, within: float, interval: float = 0.25) -> Any:
    """Poll an async check that may fail while a dependency comes back; the last value (falsy: timed out)."""
    deadline = time.monotonic() + within
    value: Any = None
    while time.monotonic() < deadline:
        try:
            value = await check()
        except Exception:  # a dependency is still coming back
            value = None
        if value:
            return value
        await asyncio.sleep(interval)
    return value


def finish(report: Report, started: float) -> None:
    """Record the scenario's time, save and print its figures, then fail on any violation."""
    report.figures["time_s"] = round(time.monotonic() - started, 1)
    report.save()
    print("\n" + report.summary())
    assert not report.violations, report.summary()
