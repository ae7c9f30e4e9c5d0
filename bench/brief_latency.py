"""Latency of the pre-session brief at 10k and 100k learning events (figures in the README).

    .venv/bin/python bench/brief_latency.py [--events 10000 100000] [--per-child 100]

Starts a throwaway embedded PostgreSQL (or uses BENCH_DATABASE_URL), loads coach notes drawn from the
retrieval fixture's sentences (embedded with the local wordllama model), and times:
- the hybrid query (one SQL statement; the query's embedding timed apart),
- a stored, fresh brief: the repository read (brief + freshness check) and the whole
  ``GET /api/coach/session-prep`` through the FastAPI app (auth, session lookup, JSON).
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from api.app import create_app  # noqa: E402
from api.services import Services  # noqa: E402
from coach_sessions.auth import mint_token  # noqa: E402
from coach_sessions.contracts import BriefContent, BriefItem, BriefSource  # noqa: E402
from coach_sessions.db import apply_migrations, create_pool  # noqa: E402
from coach_sessions.providers.embeddings import LocalEmbeddingProvider  # noqa: E402
from coach_sessions.repositories.briefs import BriefRepository  # noqa: E402
from coach_sessions.repositories.embeddings import vector_literal  # noqa: E402
from coach_sessions.repositories.search import hybrid_search  # noqa: E402
from coach_sessions.settings import Settings  # noqa: E402
from coach_sessions.statuses import Role  # noqa: E402

SECRET = "bench-secret-" + "x" * 40
QUERIES = [q["query"] for q in json.loads((ROOT / "tests/fixtures/retrieval_quality.json").read_text())["queries"]]
SENTENCES = [
    e["text"]
    for c in json.loads((ROOT / "tests/fixtures/retrieval_quality.json").read_text())["children"]
    for e in c["events"]
]


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> dict[str, float]:
    for _ in range(5):
        await fn()  # warm caches and the pool
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"p50": statistics.median(samples), "p95": samples[int(len(samples) * 0.95) - 1]}


async def load(pool: asyncpg.Pool, total: int, per_child: int, provider: LocalEmbeddingProvider) -> list[UUID]:
    """Top the database up to ``total`` events in children of ``per_child`` events each."""
    have = await pool.fetchval("SELECT count(*) FROM learning_events")
    rng = random.Random(total)
    coach = await pool.fetchval(
        "INSERT INTO coaches (name, email) VALUES ('Bench', 'bench@example.org') ON CONFLICT DO NOTHING RETURNING id"
    ) or await pool.fetchval("SELECT id FROM coaches WHERE email = 'bench@example.org'")
    parent = await pool.fetchval(
        "INSERT INTO parents (name, phone) VALUES ('Bench', '+919999999999') ON CONFLICT (phone) DO UPDATE"
        " SET name = EXCLUDED.name RETURNING id"
    )
    await pool.execute("DROP INDEX IF EXISTS learning_event_embeddings_wordllama_256_hnsw")
    while have < total:
        child = await pool.fetchval(
            "INSERT INTO children (name, age, parent_id, coach_id) VALUES ('Bench child', 8, $1, $2) RETURNING id",
            parent,
            coach,
        )
        texts = [rng.choice(SENTENCES) for _ in range(per_child)]
        rows = await pool.fetch(
            "INSERT INTO learning_events (child_id, event_type, event_date, content_for_embedding)"
            " SELECT $1, 'session', now() - make_interval(days => g::int), t"
            " FROM unnest($2::text[]) WITH ORDINALITY u(t, g)"
            " RETURNING id",
            child,
            texts,
        )
        vectors = provider.embed_sync(texts)
        await pool.execute(
            "INSERT INTO learning_event_embeddings (event_id, model, child_id, embedding)"
            " SELECT e, $1, $2, v::vector FROM unnest($3::uuid[], $4::text[]) u(e, v)",
            provider.model,
            child,
            [r["id"] for r in rows],
            [vector_literal(v) for v in vectors],
        )
        have += per_child
    started = time.perf_counter()
    await pool.execute("SET maintenance_work_mem = '512MB'")
    await pool.execute(
        "CREATE INDEX IF NOT EXISTS learning_event_embeddings_wordllama_256_hnsw ON learning_event_embeddings"
        " USING hnsw ((embedding::vector(256)) vector_cosine_ops) WHERE model = 'wordllama-l2_supercat:256'"
    )
    await pool.execute("ANALYZE")
    print(f"  HNSW index over {have} vectors built in {time.perf_counter() - started:.1f} s", flush=True)
    return [r["id"] for r in await pool.fetch("SELECT DISTINCT child_id AS id FROM learning_events")]


HEADER = (
    "| events | hybrid query p50 / p95 | query embedding p50 | stored brief read p50 / p95"
    " | GET session-prep (stored) p50 / p95 |\n|---|---|---|---|---|"
)


async def bench(dsn: str, sizes: list[int], per_child: int, runs: int) -> None:
    await apply_migrations(dsn)
    pool = await create_pool(dsn, min_size=2, max_size=4)
    provider = LocalEmbeddingProvider()
    print(HEADER)
    for size in sizes:
        children = await load(pool, size, per_child, provider)
        figures = await measure(pool, provider, children, runs)
        cells = [f"{f['p50']:.2f} / {f['p95']:.2f} ms" for f in figures]
        print(f"| {size:,} | {cells[0]} | {figures[1]['p50']:.3f} ms | {cells[2]} | {cells[3]} |", flush=True)
    await pool.close()


async def measure(
    pool: asyncpg.Pool, provider: LocalEmbeddingProvider, children: list[UUID], runs: int
) -> list[dict[str, float]]:
    rng = random.Random(1)
    vectors = {q: await provider.embed_query(q) for q in QUERIES}

    async def query() -> None:
        q = rng.choice(QUERIES)
        search = {"query_text": q, "query_vector": vectors[q], "model": provider.model, "any_word": True}
        await hybrid_search(pool, child_id=rng.choice(children), limit=12, **search)  # type: ignore[arg-type]

    async def embed() -> None:
        await provider.embed_query(rng.choice(QUERIES))

    session_id, coach_id = await stored_brief(pool, children[0])
    repo = BriefRepository(pool)

    async def read() -> None:
        assert (await repo.stored(session_id)) is not None

    settings = Settings(app_env="test", auth_jwt_secret=SECRET)
    # A fresh stored brief never reaches Temporal, so no client is needed for this measurement.
    app = create_app(settings, services=Services.build(pool, None, settings))  # type: ignore[arg-type]
    headers = {"Authorization": "Bearer " + mint_token(SECRET, coach_id, Role.COACH, timedelta(hours=1))}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:

        async def get() -> None:
            answer = await http.get("/api/coach/session-prep", params={"sessionId": str(session_id)}, headers=headers)
            assert answer.status_code == 200 and answer.json()["stale"] is False, answer.text

        return [await timed(f, runs) for f in (query, embed, read, get)]


async def stored_brief(pool: asyncpg.Pool, child_id: UUID) -> tuple[UUID, UUID]:
    """A session of the child with a stored brief generated after its newest event (so: fresh)."""
    row = await pool.fetchrow("SELECT coach_id, parent_id FROM children WHERE id = $1", child_id)
    enrollment = await pool.fetchval(
        "INSERT INTO enrollments (child_id, coach_id, start_date, session_time, weekdays, session_count, timezone)"
        " VALUES ($1, $2, current_date, '17:00', ARRAY['mon'], 1, 'Asia/Kolkata') RETURNING id",
        child_id,
        row["coach_id"],
    )
    session_id = await pool.fetchval(
        "INSERT INTO scheduled_sessions (child_id, coach_id, enrollment_id, session_number, scheduled_at,"
        " duration_minutes) VALUES ($1, $2, $3, 1, now() + interval '1 day', 45) RETURNING id",
        child_id,
        row["coach_id"],
        enrollment,
    )
    events = await pool.fetch(
        "SELECT id, event_type, event_date, content_for_embedding AS text FROM learning_events"
        " WHERE child_id = $1 ORDER BY event_date DESC LIMIT 12",
        child_id,
    )
    sources = [BriefSource(**dict(e)) for e in events]
    item = BriefItem(text="Practise consonant blends with letter tiles.", event_ids=[sources[0].id])
    content = BriefContent(
        challenges=[item] * 3, motivators=[item] * 2, recommended_activities=[item] * 3, session_focus=item
    )
    repo = BriefRepository(pool)
    context = await repo.context(session_id)
    assert context is not None
    await repo.store(context, content, sources, "local")
    return session_id, row["coach_id"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--per-child", type=int, default=100)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    dsn = os.environ.get("BENCH_DATABASE_URL")
    if dsn:
        asyncio.run(bench(dsn, sorted(args.events), args.per_child, args.runs))
        return
    from devtools.embedded import EmbeddedPostgres

    pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="brief-bench-")) / "pg", delete_on_stop=True)
    pg.start()
    try:
        dsn = asyncio.run(pg.ensure_database("brief_bench"))
        asyncio.run(bench(dsn, sorted(args.events), args.per_child, args.runs))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
