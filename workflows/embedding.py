"""Embedding a child's new learning events after they commit, off the request's answer path.

One workflow per child (``embed-events-<child id>``), started or signalled by whoever wrote an event
(signal-with-start): events written while it runs set ``_more`` and get one more pass, so a burst of
events costs a few batched activity runs, and the activity embeds only what still has no vector.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import EmbedEventsInput
    from workflows import steps


@workflow.defn
class EmbedLearningEventsWorkflow:
    def __init__(self) -> None:
        self._more = True

    @workflow.run
    async def run(self, request: EmbedEventsInput) -> int:
        embedded = 0
        while self._more:
            self._more = False
            result = await steps.embed_learning_events(request.child_id)
            embedded += result.embedded
            self._more = self._more or result.remaining
        return embedded

    @workflow.signal
    def events_added(self) -> None:
        self._more = True
