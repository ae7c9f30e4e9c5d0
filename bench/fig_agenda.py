"""Figure 6: ``GET /api/coach/agenda`` for one coach with 40 children x 12 sessions (the issue's load)
against the bare FastAPI + asyncpg app running the very same SQL (``repositories/agenda._AGENDA``),
measured in alternating rounds in the same run, one client at a time."""

from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from bench.stats import ratio, summarize
from bench.workload import now, timed, token
from tests.factories import make_family, make_sessions

CHILDREN, SESSIONS = 40, 12


async def coach_with_children(pool: asyncpg.Pool) -> Any:
    """Weekly sessions from five weeks ago; every fourth child's latest past session left pending."""
    first = await make_family(pool)
    for i in range(CHILDREN):
        family = first if i == 0 else await make_family(pool, coach=first.coach)
        starts = [now() - timedelta(weeks=5, hours=6) + timedelta(minutes=37 * i, weeks=w) for w in range(SESSIONS)]
        past = sum(1 for s in starts if s + timedelta(minutes=45) <= now())
        statuses = ["completed"] * past + ["scheduled"] * (SESSIONS - past)
        if i % 4 == 0:
            statuses[past - 1] = "pending"
        await make_sessions(pool, family, starts, statuses=statuses)
    return first.coach


async def figure(pool: asyncpg.Pool, secret: str, api: str, floor: str, *, requests: int) -> dict[str, Any]:
    coach = await coach_with_children(pool)
    headers = {"Authorization": f"Bearer {token(secret, coach.id)}"}
    variants = [
        ("service", api, "/api/coach/agenda", headers),
        ("floor", floor, f"/agenda?coachId={coach.id}", {}),
    ]
    samples: dict[str, list[float]] = {name: [] for name, *_ in variants}
    seconds: dict[str, float] = {name: 0.0 for name, *_ in variants}
    async with (
        httpx.AsyncClient(base_url=api, trust_env=False, timeout=30) as service,
        httpx.AsyncClient(base_url=floor, trust_env=False, timeout=30) as bare,
    ):
        clients = {"service": service, "floor": bare}
        rounds, each = max(1, requests // 25), 25
        for turn in range(rounds + 1):  # the first round warms connections, caches and plans
            for name, _, url, hdrs in variants[turn % 2 :] + variants[: turn % 2]:
                http = clients[name]
                for _ in range(each):
                    ms, response = await timed(lambda h=http, u=url, k=hdrs: h.get(u, headers=k))  # type: ignore[misc]
                    if response.status_code != 200:
                        raise RuntimeError(f"GET {url} → {response.status_code}: {response.text[:300]}")
                    if turn:
                        samples[name].append(ms)
                        seconds[name] += ms / 1000
        sizes = {name: len((await clients[name].get(url, headers=hdrs)).content) for name, _, url, hdrs in variants}
    got = {name: summarize(samples[name], seconds=seconds[name]) for name in samples}
    return {
        **got,
        "ratio_p50": ratio(got["service"]["p50"], got["floor"]["p50"]),
        "bytes": sizes,
        "children": CHILDREN,
        "sessions": CHILDREN * SESSIONS,
    }


def render(agenda: dict[str, Any] | None) -> list[str]:
    if not agenda:
        return []
    pcts = {
        k: f"{agenda[k]['p50']:.2f} / {agenda[k]['p90']:.2f} / {agenda[k]['p99']:.2f}" for k in ("service", "floor")
    }
    return [
        f"## 6. Agenda: `GET /api/coach/agenda` ({agenda['children']} children x 12 sessions, one coach)",
        "",
        "| Service | Bare FastAPI + asyncpg, same SQL | Ratio p50 | Answer (service / floor) |",
        "|---|---|---|---|",
        f"| {pcts['service']} | {pcts['floor']} | {agenda['ratio_p50']}× "
        f"| {agenda['bytes']['service']:,} / {agenda['bytes']['floor']:,} bytes |",
        "",
    ]
