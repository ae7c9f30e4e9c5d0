"""Reassigning a child (docs/domain.md, "Reassigning a child"): the ReassignmentWorkflow's steps, each
safe to run again. An old event already removed is skipped (marked in reassigned_sessions) or gone
(fine); a session's workflow told to reconcile twice adopts the same row and syncs the same event
(deterministic event ids: never a second one); the message is claimed once by its delivery."""

from typing import Any
from uuid import UUID

from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from coach_sessions.contracts import ReassignmentInput, ReassignmentStepResult, SessionWorkflowInput
from coach_sessions.providers.calendar import CalendarProvider, CalendarRejectedError
from coach_sessions.repositories.reassignments import ReassignmentRepository
from coach_sessions.temporal import session_workflow_id

# By name: activities do not import workflow code (its sandbox rules are the workflows' own).
SESSION_WORKFLOW_TYPE = "SessionWorkflow"
RECONCILE_UPDATE = "reconcile"


class ReassignmentActivities:
    def __init__(self, reassignments: ReassignmentRepository, calendar: CalendarProvider, temporal: Client) -> None:
        self._reassignments = reassignments
        self._calendar = calendar
        self._temporal = temporal

    @activity.defn
    async def remove_old_calendar_events(self, request: ReassignmentInput) -> ReassignmentStepResult:
        """Cancel each moved session's event on the old coach's calendar (gone already is fine; a
        calendar that refuses is logged and counted, and the move goes on)."""
        result = ReassignmentStepResult()
        for event in await self._reassignments.old_events(request.reassignment_id):
            try:
                await self._calendar.cancel_event(event["old_calendar_id"], event["old_event_id"], event["old_subject"])
                result.done += 1
            except CalendarRejectedError as error:
                activity.logger.error(
                    "old coach's calendar refused to remove a moved session's event",
                    extra={"session_id": str(event["session_id"]), "error": type(error).__name__},
                )
                result.refused += 1
            await self._reassignments.old_event_removed(request.reassignment_id, event["session_id"])
            activity.heartbeat()
        return result

    @activity.defn
    async def resync_moved_sessions(self, request: ReassignmentInput) -> ReassignmentStepResult:
        """Each moved session's workflow adopts its row (the new coach) and syncs the event onto the new
        coach's calendar with a new Meet link (started first if it was not running)."""
        result = ReassignmentStepResult()
        for session_id in await self._reassignments.moved_sessions(request.reassignment_id):
            await self._reconcile(session_id)
            result.done += 1
            activity.heartbeat()
        return result

    async def _reconcile(self, session_id: UUID) -> None:
        start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            SESSION_WORKFLOW_TYPE,
            SessionWorkflowInput(session_id=session_id),
            id=session_workflow_id(session_id),
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        try:
            await self._temporal.execute_update_with_start_workflow(RECONCILE_UPDATE, start_workflow_operation=start)
        except WorkflowUpdateFailedError as error:  # the session was resolved meanwhile: nothing to move
            activity.logger.info(
                "moved session not reconciled", extra={"session_id": str(session_id), "error": type(error).__name__}
            )

    @activity.defn
    async def reassignment_message(self, request: ReassignmentInput) -> UUID | None:
        return await self._reassignments.message_of(request.reassignment_id)

    @activity.defn
    async def complete_reassignment(self, request: ReassignmentInput) -> None:
        await self._reassignments.complete(request.reassignment_id)
