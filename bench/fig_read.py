"""Figure 1: ``GET /api/sessions?childId=`` (12 sessions) against the bare FastAPI + asyncpg app running
the same SQL, at 1 and 16 concurrent clients. The two are measured in alternating rounds, so machine
noise (the machine is shared) falls on both alike."""

import asyncio
import time
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from bench.stats import ratio, summarize
from bench.workload import now, timed, token
from tests.factories import make_family, make_sessions


async def read_family(pool: asyncpg.Pool, secret: str) -> tuple[str, dict[str, str], str]:
    """A child with 12 weekly sessions; the service's URL + headers and the floor's URL path."""
    family = await make_family(pool)
    await make_sessions(pool, family, [now() + timedelta(days=7 * i + 1) for i in range(12)])
    headers = {"Authorization": f"Bearer {token(secret, family.coach.id)}"}
    child = family.child.id
    return f"/api/sessions?childId={child}", headers, f"/sessions?childId={child}&coachId={family.coach.id}"


async def _burst(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], clients: int, each: int
) -> tuple[list[float], float]:
    samples: list[float] = []

    async def client() -> None:
        for _ in range(each):
            ms, response = await timed(lambda: http.get(url, headers=headers))
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} → {response.status_code}: {response.text[:300]}")
            samples.append(ms)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return samples, time.perf_counter() - started


async def read_path(
    pool: asyncpg.Pool, secret: str, api: str, floor: str, *, requests: int, before: str | None = None
) -> dict[str, Any]:
    service_url, headers, floor_url = await read_family(pool, secret)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    figures: dict[str, Any] = {}
    async with (
        httpx.AsyncClient(base_url=api, limits=limits, trust_env=False) as service,
        httpx.AsyncClient(base_url=floor, limits=limits, trust_env=False) as bare,
        httpx.AsyncClient(base_url=before or api, limits=limits, trust_env=False) as older,
    ):
        variants = [("service", service, service_url, headers), ("floor", bare, floor_url, {})]
        if before:  # an A/B run: the older tree's API, same database, same SQL
            variants.append(("service_before", older, service_url, headers))
        for _, http, url, hdrs in variants:
            await _burst(http, url, hdrs, 4, 25)  # warm-up: connections, caches, plans
        for clients in (1, 16):
            each_round = max(1, 50 // clients)
            rounds = max(1, requests // (each_round * clients))
            runs: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name, *_ in variants}
            for turn in range(rounds):
                for name, http, url, hdrs in variants[turn % len(variants) :] + variants[: turn % len(variants)]:
                    samples, seconds = await _burst(http, url, hdrs, clients, each_round)
                    runs[name] = (runs[name][0] + samples, runs[name][1] + seconds)
            got = {name: summarize_run(run) for name, run in runs.items()}
            svc, flr = got["service"], got["floor"]
            figures[f"clients_{clients}"] = {
                **got,
                "ratio_p50": ratio(svc["p50"], flr["p50"]),
                "throughput_share": round(svc["per_second"] / flr["per_second"], 2),
            }
            if before:
                figures[f"clients_{clients}"]["after_vs_before_p50"] = ratio(svc["p50"], got["service_before"]["p50"])
    return figures


def summarize_run(run: tuple[list[float], float]) -> dict[str, Any]:
    return summarize(run[0], seconds=run[1])
