"""Retrieval quality on a committed fixture (5 children x 40 coach notes, 25 labelled queries).

Real local embedding model (wordllama), real PostgreSQL. recall@5 = share of a query's relevant notes
(capped at 5) among the top 5. Hybrid must do at least as well as vector-only and text-only.
Run with ``-s`` to see the figures (they are in docs/domain.md).
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg

from coach_sessions.providers.embeddings import LocalEmbeddingProvider
from coach_sessions.repositories.embeddings import EmbeddingRepository
from coach_sessions.repositories.search import Mode, hybrid_search
from tests.factories import make_family

FIXTURE = Path(__file__).parent / "fixtures" / "retrieval_quality.json"


async def load_fixture(
    pool: asyncpg.Pool, provider: LocalEmbeddingProvider
) -> tuple[dict, dict[str, UUID], dict[str, list[UUID]]]:  # type: ignore[type-arg]
    data = json.loads(FIXTURE.read_text())
    children: dict[str, UUID] = {}
    events: dict[str, list[UUID]] = {}
    start = datetime(2026, 8, 1, tzinfo=UTC)
    for child in data["children"]:
        family = await make_family(pool)
        children[child["name"]] = family.child.id
        ids = []
        for event in child["events"]:
            ids.append(
                await pool.fetchval(
                    "INSERT INTO learning_events (child_id, event_type, event_date, content_for_embedding)"
                    " VALUES ($1, 'session', $2, $3) RETURNING id",
                    family.child.id,
                    start + timedelta(days=event["day"]),
                    event["text"],
                )
            )
        events[child["name"]] = ids
        vectors = await provider.embed_documents([e["text"] for e in child["events"]])
        await EmbeddingRepository(pool).store(
            provider.model, [(i, family.child.id, v) for i, v in zip(ids, vectors, strict=True)]
        )
    return data, children, events


async def recall_at_5(pool: asyncpg.Pool, provider: LocalEmbeddingProvider, mode: Mode, fixture: tuple) -> float:  # type: ignore[type-arg]
    data, children, events = fixture
    total = 0.0
    for query in data["queries"]:
        relevant = {events[query["child"]][i] for i in query["relevant"]}
        hits = await hybrid_search(
            pool,
            child_id=children[query["child"]],
            query_text=query["query"],
            any_word=True,
            query_vector=await provider.embed_query(query["query"]),
            model=provider.model,
            limit=5,
            mode=mode,
        )
        total += len({h.id for h in hits} & relevant) / min(5, len(relevant))
    return total / len(data["queries"])


async def test_hybrid_recall_at_5_is_at_least_vector_only_and_text_only(pool: asyncpg.Pool) -> None:
    provider = LocalEmbeddingProvider()
    fixture = await load_fixture(pool, provider)
    data = fixture[0]
    assert len(data["children"]) >= 5 and all(len(c["events"]) >= 40 for c in data["children"])
    assert len(data["queries"]) >= 20
    figures = {mode: await recall_at_5(pool, provider, mode, fixture) for mode in ("hybrid", "vector", "text")}
    print(
        f"\nrecall@5 over {len(data['queries'])} queries ({provider.model}): "
        + ", ".join(f"{m} {v:.3f}" for m, v in figures.items())
    )
    assert figures["hybrid"] >= figures["vector"]
    assert figures["hybrid"] >= figures["text"]
    assert figures["hybrid"] > 0.5  # and it finds most of what a coach asks about
