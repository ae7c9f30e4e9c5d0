"""Hybrid search over one child's learning events: vector and full text ranked apart, fused by RRF.

One SQL statement: the ``semantic`` CTE takes the child's 20 nearest vectors of the configured model,
the ``keyword`` CTE the 20 best ``ts_rank_cd`` matches of ``websearch_to_tsquery``; each row scores
``1/(k + rank)`` per list it appears in (k = 60) and newer events win ties.

A per-child filter on an HNSW scan is applied *after* the scan (ef_search candidates), so with many
children a plain scan can return nothing for one child. ``hnsw.iterative_scan = relaxed_order``
(pgvector 0.8) keeps scanning until the filter is satisfied; the planner may instead read the child's
rows through ``(model, child_id)`` and sort them exactly, which is cheaper when the child has few.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg

from coach_sessions.providers.embeddings import Vector
from coach_sessions.repositories.embeddings import dimensions_of, vector_literal

RRF_K = 60
PER_METHOD = 20
Mode = Literal["hybrid", "vector", "text"]

_SQL = """
WITH semantic AS (
    SELECT nearest.id, row_number() OVER (ORDER BY distance, l.event_date DESC, l.id) AS rank
      FROM (SELECT e.event_id AS id, e.embedding::vector({dims}) <=> $2::text::vector({dims}) AS distance
              FROM learning_event_embeddings e
             WHERE e.model = $3 AND e.child_id = $1 AND $7
             ORDER BY e.embedding::vector({dims}) <=> $2::text::vector({dims})
             LIMIT {per_method}) nearest
      JOIN learning_events l ON l.id = nearest.id
),
child AS MATERIALIZED (
    -- The child's rows, read once through the child index. Matching words against them here keeps the
    -- text half's cost per child: through the GIN index, a common word ("session") meant walking its
    -- posting list over every child's events, once per word and matched row (bench figure 5).
    SELECT id, event_date, search_vector FROM learning_events WHERE child_id = $1 AND $8
),
terms AS MATERIALIZED (
    -- The query's words (stemmed) and their rarity in this child's record: ts_rank has no IDF, and a
    -- word in half the child's notes ("read", "session") says little about which note is meant.
    -- MATERIALIZED: computed once, not again for every matched row.
    SELECT quote_literal(w)::tsquery AS query,
           ln((1 + (SELECT count(*) FROM child))::float8
              / (0.5 + (SELECT count(*) FROM child c WHERE c.search_vector @@ quote_literal(w)::tsquery))) AS idf
      FROM unnest(tsvector_to_array(to_tsvector('english', $4))) w
),
keyword AS (
    SELECT id, row_number() OVER (ORDER BY score DESC, event_date DESC, id) AS rank
      FROM (SELECT c.id, c.event_date,
                   (SELECT coalesce(sum(t.idf), 0) FROM terms t WHERE c.search_vector @@ t.query) AS score
              FROM child c, websearch_to_tsquery('english', $4) q
             WHERE c.search_vector @@ q
             ORDER BY score DESC, c.event_date DESC
             LIMIT {per_method}) matches
)
SELECT l.id, l.event_type, l.event_date, l.content_for_embedding AS text,
       COALESCE(1.0 / ($5 + s.rank), 0) + COALESCE(1.0 / ($5 + k.rank), 0) AS score
  FROM semantic s
  FULL OUTER JOIN keyword k ON k.id = s.id
  JOIN learning_events l ON l.id = COALESCE(s.id, k.id)
 ORDER BY score DESC, l.event_date DESC, l.id
 LIMIT $6
"""


@dataclass(frozen=True)
class Hit:
    id: UUID
    event_type: str
    event_date: datetime
    text: str
    score: float


def text_query(text: str, max_terms: int = 40) -> str:
    """``websearch_to_tsquery`` ANDs its words; a brief's query is a bag of hints, so OR them."""
    words: list[str] = []
    for word in re.findall(r"[A-Za-z][A-Za-z']{2,}", text.lower()):
        if word not in words and word != "or":
            words.append(word)
    return " or ".join(words[:max_terms])


async def hybrid_search(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    child_id: UUID,
    query_text: str,
    query_vector: Vector,
    any_word: bool = False,
    model: str,
    limit: int = 10,
    mode: Mode = "hybrid",
    iterative_scan: Literal["relaxed_order", "strict_order", "off"] = "relaxed_order",
) -> list[Hit]:
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as acquired:
            return await hybrid_search(
                acquired,
                child_id=child_id,
                query_text=query_text,
                query_vector=query_vector,
                any_word=any_word,
                model=model,
                limit=limit,
                mode=mode,
                iterative_scan=iterative_scan,
            )
    sql = _SQL.format(dims=dimensions_of(model), per_method=PER_METHOD)
    async with conn.transaction():
        await conn.execute(f"SET LOCAL hnsw.iterative_scan = {iterative_scan}")
        rows = await conn.fetch(
            sql,
            child_id,
            vector_literal(query_vector),
            model,
            text_query(query_text) if any_word else query_text,
            RRF_K,
            limit,
            mode != "text",
            mode != "vector",
        )
    return [Hit(r["id"], r["event_type"], r["event_date"], r["text"], float(r["score"])) for r in rows]
