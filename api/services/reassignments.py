"""Reassigning a child to another coach: the move's transaction, then its workflow
(workflows/reassignment.py), started at once or, when Temporal does not answer, by the reconciler."""

from uuid import UUID

from api.services.reconciler import WorkflowReconciler
from coach_sessions.repositories.reassignments import Reassignment, ReassignmentRepository


class ReassignmentService:
    def __init__(self, reassignments: ReassignmentRepository, reconciler: WorkflowReconciler) -> None:
        self._reassignments = reassignments
        self._reconciler = reconciler

    async def reassign(self, admin_id: UUID, child_id: UUID, to_coach_id: UUID, reason: str | None) -> Reassignment:
        """Move the child (docs/domain.md, "Reassigning a child"). The same request again answers the same
        move, and (while it is under way) starts its workflow if that was lost."""
        moved = await self._reassignments.reassign(child_id, to_coach_id, requested_by=admin_id, reason=reason)
        if moved.completed_at is None:
            await self._reconciler.reconcile_now("reassignment", [moved.id])
        return moved
