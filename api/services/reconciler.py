"""Bringing workflows back to agreement with their rows (table ``workflow_reconciliations``).

An action's transaction commits inside its workflow's update; if the Temporal server dies after the
commit and before the update is in history, the workflow never hears of it and the row is ahead of
it. Every action whose caller got no answer asks for its session here (``SessionService``), and every
enrollment asks for its workflow start in the transaction that creates it. This loop runs in each API
process: it takes due rows (``SKIP LOCKED``: processes share the work), sends the session's workflow
its ``reconcile`` update (a no-op when they agree) or starts the enrollment's workflow (idempotent),
and deletes the row. While Temporal is unreachable the row waits, with backoff, and is retried.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from temporalio.client import Client, RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.services.session_workflow import session_workflow_start
from coach_sessions.contracts import EnrollmentWorkflowInput, OutboxDeliveryInput, ReassignmentInput
from coach_sessions.repositories.reconciliations import ReconcileKind, Reconciliation, ReconciliationRepository
from coach_sessions.temporal import enrollment_workflow_id, message_delivery_workflow_id, reassignment_workflow_id
from workflows.enrollment import EnrollmentWorkflow
from workflows.outbox import OutboxDeliveryWorkflow
from workflows.reassignment import ReassignmentWorkflow
from workflows.session import SessionWorkflow

log = logging.getLogger("coach_sessions.reconciler")

BATCH = 20
CALL_TIMEOUT = timedelta(seconds=5)
# What a call to Temporal raises when it did not answer (or refused the update): the row waits and is retried.
TEMPORAL_UNANSWERED = (RPCError, RPCTimeoutOrCancelledError, WorkflowUpdateFailedError, TimeoutError)
MAX_BACKOFF = timedelta(seconds=30)


class WorkflowReconciler:
    def __init__(self, repository: ReconciliationRepository, temporal: Client, task_queue: str) -> None:
        self._repository = repository
        self._temporal = temporal
        self._task_queue = task_queue

    async def run(self, every: timedelta) -> None:
        """Reconcile due rows every ``every`` until cancelled; a failed pass is logged and retried."""
        while True:
            try:
                while await self.reconcile_due() == BATCH:
                    pass  # more may be due
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("reconciliation pass failed", extra={"error": repr(error)})
            except Exception:  # a bug must not end the loop: the rows stay and are retried
                log.exception("reconciliation pass failed")
            await asyncio.sleep(every.total_seconds())

    async def reconcile_due(self) -> int:
        """One pass over the due rows; how many were taken."""
        async with self._repository.take_due(BATCH) as (conn, due):
            for item in due:
                try:
                    await asyncio.wait_for(self._reconcile(item), CALL_TIMEOUT.total_seconds())
                except TEMPORAL_UNANSWERED as error:
                    backoff = min(timedelta(seconds=2 ** min(item.attempts, 5)), MAX_BACKOFF)
                    log.warning(
                        "workflow not reconciled yet",
                        extra={"kind": item.kind, "target_id": str(item.target_id), "error": type(error).__name__},
                    )
                    await self._repository.retry_later(conn, item, backoff, repr(error))
                    continue
                await self._repository.done(conn, item)
            return len(due)

    async def reconcile_now(self, kind: ReconcileKind, target_ids: list[UUID]) -> int:
        """Do what rows just committed ask for at once (an enrolment ended: its sessions and message),
        rather than at the loop's next pass; a target Temporal does not answer for keeps its row for
        the loop. How many were done."""
        done = 0
        for target_id in target_ids:
            item = Reconciliation(kind, target_id, datetime.now(UTC), 0)
            try:
                await asyncio.wait_for(self._reconcile(item), CALL_TIMEOUT.total_seconds())
            except TEMPORAL_UNANSWERED as error:
                log.warning(
                    "left to the reconciler",
                    extra={"kind": kind, "target_id": str(target_id), "error": type(error).__name__},
                )
                continue
            await self._repository.forget(kind, target_id)
            done += 1
        return done

    async def _reconcile(self, item: Reconciliation) -> None:
        if item.kind == "session":
            await self._session(item.target_id)
        elif item.kind == "message":
            await start_message_delivery(self._temporal, item.target_id, self._task_queue)
        elif item.kind == "reassignment":
            await start_reassignment(self._temporal, item.target_id, self._task_queue)
        else:
            await self._enrollment(item.target_id)

    async def _session(self, session_id: UUID) -> None:
        try:
            record = await self._temporal.execute_update_with_start_workflow(
                SessionWorkflow.reconcile,
                start_workflow_operation=session_workflow_start(session_id, self._task_queue, restart_finished=False),
            )
        except WorkflowAlreadyStartedError:
            return  # the workflow has finished: it ran to a terminal row, nothing left to catch up on
        log.info("session reconciled", extra={"session_id": str(session_id), "status": record.status})

    async def _enrollment(self, enrollment_id: UUID) -> None:
        try:
            await self._temporal.start_workflow(
                EnrollmentWorkflow.run,
                EnrollmentWorkflowInput(enrollment_id=enrollment_id),
                id=enrollment_workflow_id(enrollment_id),
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass  # it ran already: its sessions' workflows were started
        log.info("enrollment workflow ensured", extra={"enrollment_id": str(enrollment_id)})


async def start_message_delivery(temporal: Client, message_id: UUID, task_queue: str) -> None:
    """Deliver one queued message (a resend from the ops desk): its delivery workflow, started again
    when an earlier one has finished; the delivery claims the message only while it is queued."""
    await temporal.start_workflow(
        OutboxDeliveryWorkflow.run,
        OutboxDeliveryInput(message_ids=[message_id]),
        id=message_delivery_workflow_id(message_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    log.info("message delivery started", extra={"message_id": str(message_id)})


async def start_reassignment(temporal: Client, reassignment_id: UUID, task_queue: str) -> None:
    """A reassignment's workflow (one per reassignment: a second start attaches to the first, and one
    that has finished is not run again)."""
    try:
        await temporal.start_workflow(
            ReassignmentWorkflow.run,
            ReassignmentInput(reassignment_id=reassignment_id),
            id=reassignment_workflow_id(reassignment_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass  # it ran already
