"""The ops desk: what needs a human, and the actions that resolve it (docs/operations.md, "The ops queue").

Each action is recorded with the row's change in one transaction (coach_sessions/repositories/ops_desk.py);
what must follow in Temporal (a resent message's delivery, a session's calendar sync) is asked for in
that transaction too (a reconciliation) and then done at once: when Temporal is unreachable, the
reconciler does it later. The same request again changes nothing and answers the same audit row.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.services.reconciler import CALL_TIMEOUT, TEMPORAL_UNANSWERED, WorkflowReconciler
from api.services.session_workflow import session_workflow_start
from coach_sessions.errors import DomainError, ErrorCode, NotFound
from coach_sessions.progress import completion_rate
from coach_sessions.repositories.ops_desk import (
    ActionOutcome,
    Channel,
    OpsActionName,
    OpsDeskRepository,
)
from coach_sessions.repositories.reconciliations import ReconciliationRepository
from coach_sessions.repositories.retrying_activities import RetryingActivityRepository
from workflows.session import SessionWorkflow

log = logging.getLogger("coach_sessions.ops_desk")
QUEUE_LIMIT = 200
FAILED_WORKFLOWS_WITHIN = timedelta(days=7)
FAILED_WORKFLOWS_LIMIT = 50


class OpsDeskService:
    def __init__(
        self,
        desk: OpsDeskRepository,
        reconciler: WorkflowReconciler,
        reconciliations: ReconciliationRepository,
        temporal: Client,
        task_queue: str,
        retrying: RetryingActivityRepository,
    ) -> None:
        self._retrying = retrying
        self._desk = desk
        self._reconciler = reconciler
        self._reconciliations = reconciliations
        self._temporal = temporal
        self._task_queue = task_queue

    async def queue(self) -> dict[str, Any]:
        """Everything that needs a human now, each kind oldest (or soonest due) first."""
        failed, checked = await self._failed_workflows()
        return {
            "failed_workflows": failed,
            "retrying_activities": await self._retrying.listed(QUEUE_LIMIT),
            "workflows_checked": checked,
            **await self._desk.queue(QUEUE_LIMIT),
        }

    async def _failed_workflows(self) -> tuple[list[dict[str, Any]], bool]:
        """Workflows that failed or timed out in the last FAILED_WORKFLOWS_WITHIN, newest first, from
        Temporal's visibility; (nothing, False) when Temporal cannot list them (its time-skipping test
        server, or Temporal unreachable): the desk says so rather than showing an empty list."""
        since = (datetime.now(UTC) - FAILED_WORKFLOWS_WITHIN).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = f'(ExecutionStatus = "Failed" OR ExecutionStatus = "TimedOut") AND CloseTime > "{since}"'
        found: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(CALL_TIMEOUT.total_seconds()):
                async for execution in self._temporal.list_workflows(query, limit=FAILED_WORKFLOWS_LIMIT):
                    found.append(
                        {
                            "workflow_id": execution.id,
                            "run_id": execution.run_id,
                            "workflow_type": execution.workflow_type,
                            "status": execution.status.name.lower() if execution.status else "unknown",
                            "close_time": execution.close_time,
                        }
                    )
        except (RPCError, RPCTimeoutOrCancelledError, TimeoutError) as error:
            log.info("failed workflows not listed", extra={"error": type(error).__name__})
            return [], False
        return found, True

    async def pending_cancellations(self) -> list[dict[str, Any]]:
        return await self._desk.pending_cancellations(QUEUE_LIMIT)

    async def overview(self) -> list[dict[str, Any]]:
        """This week by coach, and each coach's completion rate over the last four weeks."""
        coaches = await self._desk.overview_by_coach()
        for coach in coaches:
            coach["completion_rate_4w"] = completion_rate(coach["completed_4w"], coach["missed_4w"])
        return coaches

    async def recent_actions(self, limit: int) -> list[dict[str, Any]]:
        return await self._desk.recent_actions(limit)

    async def act_on_message(
        self,
        admin_id: UUID,
        message_id: UUID,
        action: OpsActionName,
        *,
        seen_updated_at: datetime,
        note: str | None,
        channel: Channel = "desk",
    ) -> tuple[ActionOutcome, dict[str, Any]]:
        outcome = await self._desk.act_on_message(
            message_id, action, admin_id=admin_id, channel=channel, seen_updated_at=seen_updated_at, note=note
        )
        outcome, audit = _accepted(outcome, "message")
        if action == "resend":
            await self._reconciler.reconcile_now("message", [message_id])
        return outcome, audit

    async def retry_calendar_sync(
        self,
        admin_id: UUID,
        session_id: UUID,
        *,
        seen_updated_at: datetime,
        note: str | None,
        channel: Channel = "desk",
    ) -> tuple[ActionOutcome, dict[str, Any]]:
        outcome = await self._desk.retry_calendar_sync(
            session_id, admin_id=admin_id, channel=channel, seen_updated_at=seen_updated_at, note=note
        )
        outcome, audit = _accepted(outcome, "session")
        # A finished workflow may run again: a cancelled session's event still has to go.
        update = self._temporal.execute_update_with_start_workflow(
            SessionWorkflow.reconcile,
            start_workflow_operation=session_workflow_start(session_id, self._task_queue, restart_finished=True),
        )
        await self._soon("session", session_id, update)
        return outcome, audit

    async def _soon(self, kind: str, target_id: UUID, call: Any) -> None:
        """Do it now; when Temporal does not answer, the reconciliation asked for in the action's
        transaction stays and the reconciler does it (docs/reliability.md). (A resend is the reconciler's
        own start, ``reconcile_now``; a calendar retry may also run a finished session workflow again.)"""
        try:
            await asyncio.wait_for(call, CALL_TIMEOUT.total_seconds())
        except TEMPORAL_UNANSWERED as error:
            log.warning(
                "ops action's workflow call left to the reconciler",
                extra={kind + "_id": str(target_id), "error": type(error).__name__},
            )
            return
        await self._reconciliations.forget(kind, target_id)  # type: ignore[arg-type]


def _accepted(outcome: ActionOutcome | None, target: str) -> tuple[ActionOutcome, dict[str, Any]]:
    if outcome is None:
        raise NotFound(target, ErrorCode.NOT_FOUND)
    if outcome.action is None:
        raise DomainError(
            ErrorCode.ROW_CHANGED,
            f"This {target} changed since it was listed, or its state allows no such action: look again.",
            current_state=outcome.current_state,
            current_updated_at=outcome.current_updated_at,
        )
    return outcome, outcome.action
