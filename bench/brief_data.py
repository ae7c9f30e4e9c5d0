"""Generated learning records for figure 5: children of 100 events each, bulk-loaded with COPY.

Each event's text joins one to four of the retrieval fixture's 98 distinct coach notes
(tests/fixtures/retrieval_quality.json), so nearly every event is a distinct text (3.8 million 4-note
combinations), as real notes are. Distinct vectors matter: pgvector's HNSW keeps identical vectors in
one graph element (up to 10 rows each), so a corpus of a few thousand repeated texts would build a
much smaller graph than a million real notes and flatter the index build.

Embedding a million distinct texts through ``WordLlama.embed`` would take ~2.5 minutes here (~7,000
texts/s, mostly tokenising). wordllama's embedding is the normalised *mean of its token vectors*, so
the vector of "A B C" is exactly the normalised sum of A's, B's and C's token-vector sums when the
joined text tokenises as the parts do. So each fixture note is tokenised and summed once, and an
event's vector is the normalised sum of its notes' sums; :func:`check_composition` compares that with
``WordLlama.embed`` of the stored text on a sample and the figure reports the largest difference.
"""

import json
import random
import struct
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import numpy as np

from coach_sessions.providers.embeddings import LocalEmbeddingProvider

FIXTURE = Path(__file__).resolve().parent.parent / "tests/fixtures/retrieval_quality.json"
PER_CHILD = 100
CHUNK = 50_000  # rows per COPY batch (bounds the bench process's memory at 1M events)
NOTES_PER_EVENT = (2, 3, 4, 5)
NOTES_WEIGHTS = (0.05, 0.15, 0.3, 0.5)
EVENT_TYPES = ("session", "assessment", "quiz", "video", "badge")
EVENT_WEIGHTS = (0.7, 0.1, 0.1, 0.05, 0.05)
HNSW_INDEX = "learning_event_embeddings_wordllama_256_hnsw"


def fixture_notes() -> list[str]:
    data = json.loads(FIXTURE.read_text())
    return sorted({e["text"] for c in data["children"] for e in c["events"]})


def fixture_queries() -> list[str]:
    return [q["query"] for q in json.loads(FIXTURE.read_text())["queries"]]


class Corpus:
    """The fixture's notes with their wordllama token-vector sums (row ``len(notes)`` is zeros: padding)."""

    def __init__(self, provider: LocalEmbeddingProvider) -> None:
        self.provider = provider
        self.notes = fixture_notes()
        wl: Any = provider._wl  # the loaded WordLlama: its tokenizer and token-embedding matrix
        table = np.asarray(wl.embedding, dtype=np.float32)
        sums = [  # the batch is padded to its longest note: sum the real tokens only
            table[np.clip(enc.ids, 0, len(table) - 1)][np.asarray(enc.attention_mask, bool)].sum(axis=0)
            for enc in wl.tokenize(self.notes)
        ]
        self.sums = np.vstack([*sums, np.zeros(table.shape[1], np.float32)])

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` events as rows of note indices (distinct within a row; padding = ``len(notes)``)."""
        most = max(NOTES_PER_EVENT)
        picks = np.argpartition(rng.random((n, len(self.notes)), dtype=np.float32), most, axis=1)[:, :most]
        counts = rng.choice(NOTES_PER_EVENT, size=n, p=NOTES_WEIGHTS)
        picks[np.arange(most)[None, :] >= counts[:, None]] = len(self.notes)
        return picks

    def text(self, row: np.ndarray) -> str:
        return " ".join(self.notes[i] for i in row if i < len(self.notes))

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        summed = self.sums[rows[:, 0]].copy()
        for column in range(1, rows.shape[1]):  # column by column: no (n, 5, 256) temporary
            summed += self.sums[rows[:, column]]
        return summed / np.linalg.norm(summed, axis=1, keepdims=True)


def check_composition(corpus: Corpus, rng: np.random.Generator, n: int = 500) -> float:
    """Largest |1 - cosine| between a composed vector and ``WordLlama.embed`` of the same text."""
    rows = corpus.draw(rng, n)
    real = np.asarray(corpus.provider.embed_sync([corpus.text(r) for r in rows]), dtype=np.float32)
    return float(np.max(np.abs(1.0 - np.sum(real * corpus.vectors(rows), axis=1))))


def vector_binary(vectors: np.ndarray) -> list[bytes]:
    """pgvector's binary wire format: int16 dimensions, int16 unused, big-endian float4 values."""
    head = struct.pack(">hh", vectors.shape[1], 0)
    big = vectors.astype(">f4")
    return [head + row.tobytes() for row in big]


@dataclass
class Owner:
    coach_id: UUID
    parent_id: UUID


async def owner(conn: asyncpg.Connection) -> Owner:
    """One coach and parent for every generated child (the figure reads per child, not per coach)."""
    tag = uuid.uuid4().hex[:12]
    coach = await conn.fetchval(
        "INSERT INTO coaches (name, email) VALUES ('Brief bench', $1) RETURNING id", f"brief-{tag}@example.org"
    )
    parent = await conn.fetchval(
        "INSERT INTO parents (name, phone) VALUES ('Brief bench', $1) RETURNING id",
        "+9199" + str(int(tag, 16))[-8:],
    )
    return Owner(coach, parent)


async def load(
    conn: asyncpg.Connection, corpus: Corpus, who: Owner, events: int, seed: int
) -> tuple[list[UUID], dict[str, float], np.ndarray]:
    """Add ``events`` events (``PER_CHILD`` per new child) and their vectors with COPY, in chunks.
    Returns the new children, the seconds spent generating vs. in COPY per table, and the events'
    note combinations (sorted: equal rows are equal vectors)."""
    await conn.set_type_codec("vector", encoder=bytes, decoder=bytes, format="binary")
    rng, pyrng = np.random.default_rng(seed), random.Random(seed)
    children = [uuid.uuid4() for _ in range(events // PER_CHILD)]
    spent = {"generate": 0.0, "copy_children": 0.0, "copy_events": 0.0, "copy_embeddings": 0.0}
    started = time.perf_counter()
    await conn.copy_records_to_table(
        "children",
        records=[(c, f"Bench child {i}", 6 + i % 8, who.parent_id, who.coach_id) for i, c in enumerate(children)],
        columns=["id", "name", "age", "parent_id", "coach_id"],
    )
    spent["copy_children"] = time.perf_counter() - started
    now = datetime.now(UTC)
    model = corpus.provider.model
    per_chunk = max(1, CHUNK // PER_CHILD)
    drawn = [np.empty((0, max(NOTES_PER_EVENT)), np.int8)]
    for start in range(0, len(children), per_chunk):
        tick = time.perf_counter()
        group = children[start : start + per_chunk]
        n = len(group) * PER_CHILD
        rows = corpus.draw(rng, n)
        drawn.append(np.sort(rows, axis=1).astype(np.int8))
        owners = [c for c in group for _ in range(PER_CHILD)]
        ids = [uuid.uuid4() for _ in range(n)]
        # Two years of notes, newest first within a child; created when they happened (so a brief
        # stored now is fresh).
        ages = np.sort(rng.random(n).reshape(len(group), PER_CHILD), axis=1).ravel() * 730
        dates = [now - timedelta(days=float(a)) for a in ages]
        kinds = pyrng.choices(EVENT_TYPES, EVENT_WEIGHTS, k=n)
        event_rows = [(ids[i], owners[i], kinds[i], dates[i], corpus.text(rows[i]), dates[i]) for i in range(n)]
        vectors = vector_binary(corpus.vectors(rows))
        vector_rows = [(ids[i], model, owners[i], vectors[i]) for i in range(n)]
        spent["generate"] += time.perf_counter() - tick
        tick = time.perf_counter()
        await conn.copy_records_to_table(
            "learning_events",
            records=event_rows,
            columns=["id", "child_id", "event_type", "event_date", "content_for_embedding", "created_at"],
        )
        spent["copy_events"] += time.perf_counter() - tick
        tick = time.perf_counter()
        await conn.copy_records_to_table(
            "learning_event_embeddings", records=vector_rows, columns=["event_id", "model", "child_id", "embedding"]
        )
        spent["copy_embeddings"] += time.perf_counter() - tick
    return children, {k: round(v, 2) for k, v in spent.items()}, np.vstack(drawn)


async def index_definition(conn: asyncpg.Connection, name: str = HNSW_INDEX) -> str:
    """The index exactly as the migrations created it (to drop it for a load and build it again)."""
    definition = await conn.fetchval("SELECT pg_get_indexdef(to_regclass($1))", name)
    if not definition:
        raise RuntimeError(f"index {name} not found: migrations not applied?")
    return str(definition)


async def stored_brief(pool: asyncpg.Pool, child_id: UUID) -> UUID:
    """A session of the child with a brief stored now, after its newest event (so: fresh)."""
    from coach_sessions.contracts import BriefContent, BriefItem, BriefSource
    from coach_sessions.repositories.briefs import BriefRepository

    coach_id = await pool.fetchval("SELECT coach_id FROM children WHERE id = $1", child_id)
    enrollment = await pool.fetchval(
        "INSERT INTO enrollments (child_id, coach_id, start_date, session_time, weekdays, session_count, timezone)"
        " VALUES ($1, $2, current_date, '17:00', ARRAY['mon'], 1, 'Asia/Kolkata') RETURNING id",
        child_id,
        coach_id,
    )
    session_id: UUID = await pool.fetchval(
        "INSERT INTO scheduled_sessions (child_id, coach_id, enrollment_id, session_number, scheduled_at,"
        " duration_minutes) VALUES ($1, $2, $3, 1, now() + interval '1 day', 45) RETURNING id",
        child_id,
        coach_id,
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
    return session_id
