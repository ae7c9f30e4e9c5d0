"""Re-embedding for a new model: batched, resumable, other models' vectors untouched."""

import asyncpg

from coach_sessions.backfill import reembed
from coach_sessions.providers.embeddings import Vector, normalise
from coach_sessions.repositories.embeddings import EmbeddingRepository
from tests.factories import make_family


class CountingModel:
    """A stand-in model (16 dimensions) that fails on its second batch the first time round."""

    model = "backfill-test:16"
    dimensions = 16

    def __init__(self, fail_on_batch: int | None = None) -> None:
        self.batches = 0
        self.fail_on_batch = fail_on_batch

    async def embed_documents(self, texts: list[str]) -> list[Vector]:
        self.batches += 1
        if self.batches == self.fail_on_batch:
            raise ConnectionError("model went away")
        return normalise([[len(t) % 7 + 1.0, *([1.0] * 15)] for t in texts])

    async def embed_query(self, text: str) -> Vector:
        return (await self.embed_documents([text]))[0]


async def test_an_interrupted_reembed_resumes_where_it_stopped(pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    await pool.execute(
        "INSERT INTO learning_events (child_id, event_type, content_for_embedding)"
        " SELECT $1, 'session', 'note ' || g FROM generate_series(1, 25) g",
        family.child.id,
    )
    before = await EmbeddingRepository(pool).count_missing(CountingModel.model)
    assert before >= 25  # every event in the database lacks this new model's vector
    progress: list[tuple[int, int]] = []
    failing = CountingModel(fail_on_batch=2)
    try:
        await reembed(pool, failing, batch_size=10, on_batch=lambda d, t: progress.append((d, t)))
    except ConnectionError:
        pass
    assert progress == [(10, before)]  # the first batch committed before the failure
    assert await EmbeddingRepository(pool).count_missing(CountingModel.model) == before - 10

    done = await reembed(pool, CountingModel(), batch_size=10_000)
    assert done == before - 10 and await EmbeddingRepository(pool).count_missing(CountingModel.model) == 0
    indexes = await pool.fetchval(
        "SELECT count(*) FROM pg_indexes"
        " WHERE tablename = 'learning_event_embeddings' AND indexdef LIKE '%backfill-test:16%'"
    )
    assert indexes == 1
