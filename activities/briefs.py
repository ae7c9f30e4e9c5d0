"""Embedding learning events after they commit, and generating a session's brief from the child's record."""

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import MODEL_REJECTED, business_failures_are_final
from coach_sessions.contracts import (
    BriefSource,
    EmbedEventsInput,
    EmbedEventsResult,
    GenerateBriefInput,
    SessionBrief,
)
from coach_sessions.errors import NotFound
from coach_sessions.providers.brief import BriefProvider, BriefRequest, empty_record_brief
from coach_sessions.providers.embeddings import EmbeddingProvider
from coach_sessions.providers.gemini import ModelRejectedError, ModelUnavailableError
from coach_sessions.repositories.briefs import BriefRepository
from coach_sessions.repositories.embeddings import EmbeddingRepository
from coach_sessions.repositories.search import hybrid_search

EMBED_BATCH = 256
# One activity run embeds at most this many; the caller runs it again while ``remaining``.
EMBED_PER_RUN = 4096


class BriefActivities:
    def __init__(
        self,
        briefs: BriefRepository,
        embeddings: EmbeddingRepository,
        embedder: EmbeddingProvider,
        writer: BriefProvider,
        *,
        source_count: int = 12,
        lead_time: timedelta = timedelta(hours=2),
    ) -> None:
        self._briefs = briefs
        self._embeddings = embeddings
        self._embedder = embedder
        self._writer = writer
        self._source_count = source_count
        self._lead_time = lead_time

    @activity.defn
    async def brief_lead_time(self) -> timedelta:
        """The worker's BRIEF_LEAD_TIME, read once by each session workflow (recorded in its history)."""
        return self._lead_time

    @activity.defn
    async def embed_learning_events(self, request: EmbedEventsInput) -> EmbedEventsResult:
        """Embed the events that have no vector from the configured model yet (idempotent, batched)."""
        try:
            embedded = await self._embed_missing(request)
        except ModelRejectedError as error:
            raise ApplicationError(str(error), type=MODEL_REJECTED, non_retryable=True) from error
        remaining = bool(await self._embeddings.missing(self._embedder.model, child_id=request.child_id, limit=1))
        return EmbedEventsResult(embedded=embedded, remaining=remaining)

    async def _embed_missing(self, request: EmbedEventsInput) -> int:
        embedded = 0
        while embedded < EMBED_PER_RUN:
            rows = await self._embeddings.missing(self._embedder.model, child_id=request.child_id, limit=EMBED_BATCH)
            if not rows:
                break
            vectors = await self._embedder.embed_documents([r["text"] for r in rows])
            stored = [(r["id"], r["child_id"], v) for r, v in zip(rows, vectors, strict=True)]
            await self._embeddings.store(self._embedder.model, stored)
            embedded += len(rows)
        return embedded

    @activity.defn
    @business_failures_are_final
    async def generate_brief(self, request: GenerateBriefInput) -> SessionBrief:
        if request.reuse_fresh:
            stored = await self._briefs.stored(request.session_id)
            if stored is not None and not stored.stale:
                return stored  # another request generated it while this one waited
        context = await self._briefs.context(request.session_id)
        if context is None:
            raise NotFound()
        try:
            # Catch up on events written since the last embedding run (transitions write events too).
            await self._embed_missing(EmbedEventsInput(child_id=context.child_id))
        except ModelUnavailableError as error:
            activity.logger.warning("embedding behind; new events found by full text only", extra={"error": str(error)})
        try:
            hits = await hybrid_search(
                self._briefs.pool,
                child_id=context.child_id,
                query_text=context.query_text,
                any_word=True,  # the query is a bag of hints (notes, open challenges), not a typed search
                query_vector=await self._embedder.embed_query(context.query_text),
                model=self._embedder.model,
                limit=self._source_count,
            )
            sources = [
                BriefSource(id=h.id, event_type=h.event_type, event_date=h.event_date, text=h.text) for h in hits
            ]
            brief_request = BriefRequest(
                context.child_first_name, context.child_age, context.session_number, sources, context.withheld
            )
            if sources:
                content, model = await self._writer.write(brief_request), self._writer.model
            else:
                content, model = empty_record_brief(brief_request), "none"
        except ModelRejectedError as error:
            activity.logger.error(
                "brief model refused", extra={"session_id": str(request.session_id), "error": str(error)}
            )
            raise ApplicationError(str(error), type=MODEL_REJECTED, non_retryable=True) from error
        brief = await self._briefs.store(context, content, sources, model)
        activity.logger.info("brief generated", extra={"session_id": str(request.session_id), "model": model})
        return brief
