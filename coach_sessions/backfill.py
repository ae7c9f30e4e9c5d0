"""Re-embedding the whole learning record for the configured model (``python -m coach_sessions reembed``).

Resumable by construction: each batch embeds events that have no vector from this model yet and
commits, so an interrupted run picks up where it stopped; vectors of other models stay untouched
(switching back needs no re-embedding). The model's partial HNSW index is created first if missing.
"""

from collections.abc import Callable

import asyncpg

from coach_sessions.providers.embeddings import EmbeddingProvider
from coach_sessions.repositories.embeddings import EmbeddingRepository


async def reembed(
    pool: asyncpg.Pool,
    provider: EmbeddingProvider,
    *,
    batch_size: int = 256,
    on_batch: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Embed every event missing a ``provider.model`` vector; ``on_batch(done, total)`` after each batch."""
    repo = EmbeddingRepository(pool)
    await repo.ensure_index(provider.model)
    total = await repo.count_missing(provider.model)
    done = 0
    while rows := await repo.missing(provider.model, limit=batch_size):
        vectors = await provider.embed_documents([r["text"] for r in rows])
        await repo.store(provider.model, [(r["id"], r["child_id"], v) for r, v in zip(rows, vectors, strict=True)])
        done += len(rows)
        on_batch(done, max(total, done))
    return done
