"""Hybrid search: RRF of vector and full-text ranks per child, and a child filter that does not starve HNSW."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import numpy as np

from coach_sessions.providers.embeddings import LocalEmbeddingProvider, normalise
from coach_sessions.repositories.embeddings import EmbeddingRepository
from coach_sessions.repositories.search import hybrid_search, text_query
from tests.factories import make_family

MODEL = LocalEmbeddingProvider.model


async def add_events(pool: asyncpg.Pool, child_id: UUID, texts: list[str], *, start: datetime) -> list[UUID]:
    ids = []
    for i, text in enumerate(texts):
        ids.append(
            await pool.fetchval(
                "INSERT INTO learning_events (child_id, event_type, event_date, content_for_embedding)"
                " VALUES ($1, 'session', $2, $3) RETURNING id",
                child_id,
                start + timedelta(days=i),
                text,
            )
        )
    return ids


async def embed_child(pool: asyncpg.Pool, child_id: UUID) -> None:
    provider, repo = LocalEmbeddingProvider(), EmbeddingRepository(pool)
    rows = await repo.missing(MODEL, child_id=child_id)
    vectors = await provider.embed_documents([r["text"] for r in rows])
    await repo.store(MODEL, [(r["id"], r["child_id"], v) for r, v in zip(rows, vectors, strict=True)])


async def test_rrf_fuses_both_lists_and_keeps_to_the_child(pool: asyncpg.Pool) -> None:
    family, other = await make_family(pool), await make_family(pool)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    texts = [
        "Struggled to blend consonant clusters like st, bl and tr in the word list.",
        "Read the dragon story aloud with good expression.",
        "Mixed up b and d while decoding short words.",
        "Parent asked to move Thursday's session to Friday.",
        "Still hesitates on consonant blends at the start of words.",
    ]
    ids = await add_events(pool, family.child.id, texts, start=start)
    await add_events(pool, other.child.id, ["Consonant blends are hard for this other child too."], start=start)
    await embed_child(pool, family.child.id)
    await embed_child(pool, other.child.id)
    query = "difficulty with consonant blends"
    vector = (await LocalEmbeddingProvider().embed_documents([query]))[0]

    search = {
        "child_id": family.child.id,
        "query_text": query,
        "query_vector": vector,
        "model": MODEL,
        "any_word": True,
    }
    hits = await hybrid_search(pool, **search)  # type: ignore[arg-type]
    assert {h.id for h in hits} == set(ids)  # every event of this child, none of the other's
    assert {hits[0].id, hits[1].id} == {ids[0], ids[4]}  # both lists rank the blend notes first
    # RRF: an event in both lists scores 1/(60+r1) + 1/(60+r2); one only in the vector list scores less.
    text_only = await hybrid_search(pool, **search, mode="text")  # type: ignore[arg-type]
    assert {h.id for h in text_only} == {ids[0], ids[4]}  # "consonant" / "blends" words
    assert hits[0].score > 1 / 61 and all(h.score <= 2 / 61 + 1e-9 for h in hits)


async def test_equal_scores_put_the_newer_event_first(pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    ids = await add_events(pool, family.child.id, ["Practised sight words.", "Practised sight words."], start=start)
    await embed_child(pool, family.child.id)
    vector = (await LocalEmbeddingProvider().embed_documents(["sight words"]))[0]
    hits = await hybrid_search(
        pool, child_id=family.child.id, query_text="sight words", query_vector=vector, model=MODEL
    )
    assert [h.id for h in hits] == [ids[1], ids[0]]


def test_the_text_query_ors_its_words() -> None:
    assert text_query("Session 4: blends, blends and fluency!") == "session or blends or and or fluency"


async def test_thousands_of_children_do_not_starve_one_childs_vector_search(pool: asyncpg.Pool) -> None:
    """HNSW filters after its scan: a plain scan finds almost nothing for one child among 2,000;
    the iterative scan (what search uses) returns that child's exact nearest 20."""
    rng = np.random.default_rng(7)
    model = "starvation-test:32"  # small vectors: the index builds in a second after the bulk insert
    target = await make_family(pool)
    coach_id, parent_id = target.coach.id, target.parent.id
    others = await pool.fetch(
        "INSERT INTO children (name, age, parent_id, coach_id) SELECT 'Bulk ' || g, 8, $1, $2"
        " FROM generate_series(1, 2000) g RETURNING id",
        parent_id,
        coach_id,
    )
    children = [target.child.id] * 30 + [r["id"] for r in others for _ in range(6)]
    event_ids = await pool.fetch(
        "INSERT INTO learning_events (child_id, event_type, content_for_embedding)"
        " SELECT c, 'session', 'bulk note' FROM unnest($1::uuid[]) c RETURNING id, child_id",
        children,
    )
    vectors = normalise(rng.normal(size=(len(event_ids), 32)))
    repo = EmbeddingRepository(pool)
    await repo.store(model, [(r["id"], r["child_id"], v) for r, v in zip(event_ids, vectors, strict=True)])
    await repo.ensure_index(model)  # a new model's partial HNSW index, as the re-embed command makes it
    query = normalise(rng.normal(size=(1, 32)))[0]
    mine = [(r["id"], v) for r, v in zip(event_ids, vectors, strict=True) if r["child_id"] == target.child.id]
    exact = sorted(mine, key=lambda pair: -float(np.dot(pair[1], query)))[:20]

    async with pool.acquire() as conn, conn.transaction():
        # Take away the exact path through (model, child_id) so the planner must use the HNSW index.
        await conn.execute("DROP INDEX learning_event_embeddings_child_idx")
        await conn.execute("SET LOCAL enable_seqscan = off")
        search = {"child_id": target.child.id, "query_text": "", "query_vector": query, "model": model, "limit": 20}
        plain = await hybrid_search(conn, **search, mode="vector", iterative_scan="off")  # type: ignore[arg-type]
        iterative = await hybrid_search(conn, **search, mode="vector")  # type: ignore[arg-type]
        plan = await conn.fetch(
            "EXPLAIN SELECT event_id FROM learning_event_embeddings WHERE model = $1 AND child_id = $2"
            " ORDER BY embedding::vector(32) <=> $3::text::vector(32) LIMIT 20",
            model,
            target.child.id,
            "[" + ",".join(map(str, query)) + "]",
        )
        await conn.execute("ROLLBACK AND CHAIN")  # keep the index (the block's COMMIT then ends this chain)
    assert "hnsw" in " ".join(r[0] for r in plan)
    assert len(plain) < 10  # starved: the scan's 40 candidates belong to other children
    # Approximate, but now 20 of this child's rows, nearly all of the exact 20.
    assert len(iterative) == 20 and len({h.id for h in iterative} & {i for i, _ in exact}) >= 18
    # And the production path (planner free to pick the child index) agrees.
    production = await hybrid_search(pool, **search, mode="vector")  # type: ignore[arg-type]
    assert [h.id for h in production] == [event_id for event_id, _ in exact]
