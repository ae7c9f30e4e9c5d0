"""Erasing a child (docs/security.md, "Erasure"): four idempotent steps, each safe to run twice.

Recording the erasure inserts its row once; ending a workflow that has ended already, or removing a
calendar event that is gone, is what was wanted; the scrub does nothing once the erasure is completed.
"""

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from coach_sessions.contracts import EraseChildInput, ErasureStepInput, ErasureStepResult
from coach_sessions.providers.calendar import CalendarProvider, CalendarRejectedError
from coach_sessions.repositories.erasures import ErasureRepository

# Shown in the Temporal UI on each ended workflow: names no person.
TERMINATE_REASON = "child erased (docs/security.md, Erasure)"


class ErasureActivities:
    def __init__(self, erasures: ErasureRepository, calendar: CalendarProvider, temporal: Client) -> None:
        self._erasures = erasures
        self._calendar = calendar
        self._temporal = temporal

    @activity.defn
    async def record_erasure(self, request: EraseChildInput) -> None:
        await self._erasures.record(request.child_id, request.requested_by)

    @activity.defn
    async def end_child_workflows(self, request: ErasureStepInput) -> ErasureStepResult:
        """Terminate every running workflow of the child (found by id; one never started is skipped)."""
        await self._erasures.forget_reconciliations(request.child_id)
        ended = 0
        for workflow_id in await self._erasures.workflow_ids(request.child_id):
            handle = self._temporal.get_workflow_handle(workflow_id)
            try:
                if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                    continue
                await handle.terminate(reason=TERMINATE_REASON)
                ended += 1
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:  # never started, or ended in between
                    raise
            activity.heartbeat()
        activity.logger.info("child workflows ended", extra={"child_id": str(request.child_id), "ended": ended})
        return ErasureStepResult(done=ended)

    @activity.defn
    async def remove_child_calendar_events(self, request: ErasureStepInput) -> ErasureStepResult:
        """Cancel each session's event (gone already is fine). A calendar that refuses (say, access
        revoked) is logged and counted: the erasure goes on, an operator removes that event by hand."""
        result = ErasureStepResult()
        for event in await self._erasures.calendar_events(request.child_id):
            try:
                await self._calendar.cancel_event(
                    event["calendar_id"] or event["coach_email"], event["google_event_id"], event["coach_email"]
                )
                result.done += 1
            except CalendarRejectedError as error:
                activity.logger.error(
                    "calendar refused to remove an erased child's event",
                    extra={"session_id": str(event["id"]), "error": type(error).__name__},
                )
                result.refused += 1
            activity.heartbeat()
        return result

    @activity.defn
    async def scrub_child(self, request: ErasureStepInput) -> ErasureStepResult:
        return ErasureStepResult(done=int(await self._erasures.scrub(request.child_id)))
