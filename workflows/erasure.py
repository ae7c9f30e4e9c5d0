"""Erasing a child (docs/security.md, "Erasure"): one workflow per child, ``erase-child-<child id>``.

Started by ``DELETE /api/children/{id}`` with "use existing", so concurrent requests make one erasure.
Each step is an idempotent activity that retries until it succeeds; a worker that dies mid-way leaves
the workflow to the next worker, which runs the unfinished step again. Its history holds ids and counts.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import EraseChildInput
    from workflows import steps


@workflow.defn
class ChildErasureWorkflow:
    @workflow.run
    async def run(self, request: EraseChildInput) -> None:
        await steps.record_erasure(request)
        # Before the calendar: a session workflow still running could put an event back.
        ended = await steps.end_child_workflows(request.child_id)
        events = await steps.remove_child_calendar_events(request.child_id)
        await steps.scrub_child(request.child_id)
        workflow.logger.info(
            "child erased",
            extra={"workflows_ended": ended.done, "events_removed": events.done, "events_refused": events.refused},
        )
