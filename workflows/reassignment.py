"""Reassigning a child to another coach (docs/domain.md, "Reassigning a child"): one workflow per
reassignment, ``reassignment-<id>``, started once the move's transaction has committed.

Each step is an idempotent activity that retries until it succeeds, so a worker that dies midway leaves
the rest to the next one: remove the events left on the old coach's calendar, have each moved session's
workflow sync its event onto the new coach's calendar, deliver the parent's one message, complete.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import ReassignmentInput
    from workflows import steps


@workflow.defn
class ReassignmentWorkflow:
    @workflow.run
    async def run(self, request: ReassignmentInput) -> None:
        removed = await steps.remove_old_calendar_events(request)
        synced = await steps.resync_moved_sessions(request)
        message_id = await steps.reassignment_message(request)
        if message_id is not None:
            await steps.deliver_message(message_id)
        await steps.complete_reassignment(request)
        workflow.logger.info(
            "child reassigned",
            extra={"events_removed": removed.done, "events_refused": removed.refused, "sessions_synced": synced.done},
        )
