"""Turning learning-event text into vectors: local wordllama (default, offline) or Gemini embeddings.

Each provider names its vectors ``"<model>:<dimensions>"``; stored vectors carry that name and a
search reads only the configured model's rows (migrations/0004_brief.sql).
"""

from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from google import genai
from google.genai import types

from coach_sessions.logging import mask_contacts
from coach_sessions.providers.gemini import classify, gemini_client
from coach_sessions.settings import Settings

Vector = list[float]


class EmbeddingProvider(Protocol):
    model: str  # "<model>:<dimensions>"
    dimensions: int

    async def embed_documents(self, texts: list[str]) -> list[Vector]: ...

    async def embed_query(self, text: str) -> Vector: ...


def normalise(vectors: Any) -> list[Vector]:
    """L2-normalise rows (Gemini's vectors below 3,072 dimensions come back unnormalised)."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return [row.tolist() for row in array / norms]


@lru_cache(maxsize=1)
def _wordllama() -> Any:
    """Loaded once per process (~0.15 s) from the weights inside the wheel; never touches the network.

    Plain ``WordLlama.load()`` goes to the model hub and fails offline.
    """
    import wordllama

    return wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


class LocalEmbeddingProvider:
    """wordllama ``l2_supercat`` (256 dimensions): ~30 µs a sentence, runs in the worker's process."""

    model = "wordllama-l2_supercat:256"
    dimensions = 256

    def __init__(self) -> None:
        self._wl = _wordllama()

    def embed_sync(self, texts: list[str]) -> list[Vector]:
        return normalise(self._wl.embed(texts, norm=True)) if texts else []

    async def embed_documents(self, texts: list[str]) -> list[Vector]:
        # Fast enough (1,000 sentences ≈ 30 ms) that a thread hop would cost more than it saves.
        return self.embed_sync(texts)

    async def embed_query(self, text: str) -> Vector:
        return self.embed_sync([text])[0]


class GeminiEmbeddingProvider:
    """``embed_content`` on ``gemini-embedding-001`` (one ``:batchEmbedContents`` call per batch)."""

    batch_size = 100  # the API's limit per batch request

    def __init__(self, settings: Settings, client: genai.Client | None = None) -> None:
        self._client = client or gemini_client(settings)
        self._model_name = settings.gemini_embedding_model
        self.dimensions = settings.gemini_embedding_dimensions
        self.model = f"{self._model_name}:{self.dimensions}"

    async def _embed(self, texts: list[str], task_type: str) -> list[Vector]:
        vectors: list[Vector] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            try:
                response = await self._client.aio.models.embed_content(
                    model=self._model_name,
                    # Phone numbers and emails a note quotes stay here (they carry no meaning to search by).
                    contents=[types.Content(parts=[types.Part(text=mask_contacts(t))]) for t in batch],  # type: ignore[arg-type]
                    config=types.EmbedContentConfig(task_type=task_type, output_dimensionality=self.dimensions),
                )
            except Exception as error:
                raise classify(error) from error
            values = [e.values or [] for e in response.embeddings or []]
            if len(values) != len(batch) or any(len(v) != self.dimensions for v in values):
                raise classify(ValueError(f"expected {len(batch)} vectors of {self.dimensions}"))
            vectors += normalise(values)
        return vectors

    async def embed_documents(self, texts: list[str]) -> list[Vector]:
        return await self._embed(texts, "RETRIEVAL_DOCUMENT") if texts else []

    async def embed_query(self, text: str) -> Vector:
        return (await self._embed([text], "RETRIEVAL_QUERY"))[0]


def build_embedding_provider(settings: Settings) -> EmbeddingProvider:
    if settings.embedding_provider == "gemini":
        return GeminiEmbeddingProvider(settings)
    return LocalEmbeddingProvider()
