"""Reassigning a child to another coach: the move's transaction, then its workflow
(workflows/reassignment.py), started at once or, when Temporal does not answer, by the reconciler."""

import asyncio
import logging
from uuid import UUID

from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.services.reconciler import CALL_TIMEOUT, start_reassignment
from coach_sessions.repositories.reassignments import Reassignment, ReassignmentRepository
from coach_sessions.repositories.reconciliations import ReconciliationRepository

log = logging.getLogger("coach_sessions.reassignments")


class ReassignmentService:
    def __init__(
        self,
        reassignments: ReassignmentRepository,
        reconciliations: ReconciliationRepository,
        temporal: Client,
        task_queue: str,
    ) -> None:
        self._reassignments = reassignments
        self._reconciliations = reconciliations
        self._temporal = temporal
        self._task_queue = task_queue

    async def reassign(self, admin_id: UUID, child_id: UUID, to_coach_id: UUID, reason: str | None) -> Reassignment:
        """Move the child (docs/domain.md, "Reassigning a child"). The same request again answers the same
        move, and (while it is under way) starts its workflow if that was lost."""
        moved = await self._reassignments.reassign(child_id, to_coach_id, requested_by=admin_id, reason=reason)
        if moved.completed_at is None:
            try:
                await asyncio.wait_for(
                    start_reassignment(self._temporal, moved.id, self._task_queue), CALL_TIMEOUT.total_seconds()
                )
            except (RPCError, RPCTimeoutOrCancelledError, TimeoutError) as error:
                log.warning(
                    "reassignment left to the reconciler",
                    extra={"reassignment_id": str(moved.id), "error": type(error).__name__},
                )
                return moved
            await self._reconciliations.forget("reassignment", moved.id)
        return moved
