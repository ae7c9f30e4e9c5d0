"""Figure 5's checks: the hybrid query keeps to the child asked for and returns enough rows, at each size,
on the planner's own plan and on the HNSW plan forced (the per-child b-tree and the primary key dropped
inside a transaction that is rolled back); and which indexes a plan uses (EXPLAIN)."""

import random
import time
from typing import Any
from uuid import UUID

import asyncpg
import numpy as np

from bench.stats import summarize
from coach_sessions.providers.embeddings import LocalEmbeddingProvider
from coach_sessions.repositories.search import hybrid_search

CHILD_INDEX = "learning_event_embeddings_child_idx"


def brief_query(rng: random.Random, queries: list[str]) -> str:
    """Like ``BriefRepository.context``'s: the session's hints, then recent notes (here a fixture query)."""
    number = rng.randint(2, 40)
    return f"session {number} reading progress struggles difficulty confident enjoys motivated {rng.choice(queries)}"


async def checks(
    pool: asyncpg.Pool, provider: LocalEmbeddingProvider, children: list[UUID], queries: list[str], count: int
) -> dict[str, Any]:
    """Right child, enough rows; and the HNSW path's rows and recall with the child b-tree hidden."""
    rng = random.Random(11)
    sample = rng.sample(children, min(count, len(children)))
    hybrid_counts, vector_counts, foreign = [], [], 0
    exact: dict[UUID, set[UUID]] = {}
    searches: list[dict[str, Any]] = []
    for child in sample:
        text = brief_query(rng, queries)
        vector = await provider.embed_query(text)
        search: dict[str, Any] = {
            "child_id": child, "query_text": text, "query_vector": vector, "any_word": True, "model": provider.model
        }  # fmt: skip
        searches.append(search)
        hits = await hybrid_search(pool, limit=12, **search)  # type: ignore[arg-type]
        near = await hybrid_search(pool, limit=20, mode="vector", **search)  # type: ignore[arg-type]
        owners = await pool.fetch(
            "SELECT child_id FROM learning_events WHERE id = ANY($1)", [h.id for h in hits + near]
        )
        foreign += sum(1 for r in owners if r["child_id"] != child)
        hybrid_counts.append(len(hits))
        vector_counts.append(len(near))
        exact[child] = {h.id for h in near}
    hnsw: dict[str, Any] = {}
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:  # hide the child b-tree, the primary key and sequential scans: the planner must take the HNSW
            await conn.execute(f"DROP INDEX {CHILD_INDEX}")
            await conn.execute("ALTER TABLE learning_event_embeddings DROP CONSTRAINT learning_event_embeddings_pkey")
            await conn.execute("SET LOCAL enable_seqscan = off")
            plan = await plan_indexes(conn, provider, searches[0]["child_id"], searches[0]["query_text"], mode="vector")
            rows, recall, times = [], [], []
            for search in searches:
                started = time.perf_counter()
                near = await hybrid_search(conn, limit=20, mode="vector", **search)  # type: ignore[arg-type]
                times.append((time.perf_counter() - started) * 1000)
                ids = {h.id for h in near}
                owners = await conn.fetch("SELECT child_id FROM learning_events WHERE id = ANY($1)", list(ids))
                foreign += sum(1 for r in owners if r["child_id"] != search["child_id"])
                rows.append(len(near))
                recall.append(len(ids & exact[search["child_id"]]) / max(1, len(exact[search["child_id"]])))
            hnsw = {"rows_min": min(rows), "rows_mean": round(float(np.mean(rows)), 1), "plan_indexes": plan,
                    "recall_mean": round(float(np.mean(recall)), 3), "latency": summarize(times)}  # fmt: skip
        finally:
            await tx.rollback()
    return {
        "children": len(sample),
        "hybrid_rows_min": min(hybrid_counts),
        "vector_rows_min": min(vector_counts),
        "foreign_rows": foreign,
        "hnsw_path": hnsw,
    }


async def plan_indexes(
    db: asyncpg.Pool | asyncpg.Connection, provider: LocalEmbeddingProvider, child: UUID, query: str, mode: str = ""
) -> list[str]:
    """The indexes the planner uses for the production hybrid query (or its vector half)."""
    from coach_sessions.repositories.embeddings import vector_literal
    from coach_sessions.repositories.search import _SQL, PER_METHOD, RRF_K, text_query

    sql = _SQL.format(dims=provider.dimensions, per_method=PER_METHOD)
    vector = vector_literal(await provider.embed_query(query))
    args = [child, vector, provider.model, text_query(query), RRF_K, 12, True, mode != "vector"]
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await plan_indexes(conn, provider, child, query, mode)
    async with db.transaction():
        await db.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        plan = await db.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Index Name" in node and node["Index Name"] not in found:
                found.append(node["Index Name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(plan)
    return found
