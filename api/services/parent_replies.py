"""The parent's taps: record, match, then signal the consent workflow (or tell the parent it's decided).

A matched tap is recorded 'matched' and marked 'signalled' only once the signal went through: a
delivery answered 503 (the Temporal server down) is signalled when the provider delivers it again.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from coach_sessions.contracts import ConsentDecision, OutboxDeliveryInput, ParentReply
from coach_sessions.repositories.inbound import InboundReply, InboundRepository, MatchKind
from coach_sessions.statuses import ConsentChoice
from coach_sessions.temporal import message_delivery_workflow_id
from workflows.consent import CancellationConsentWorkflow
from workflows.outbox import OutboxDeliveryWorkflow

log = logging.getLogger("coach_sessions.webhooks")


@dataclass(frozen=True)
class ReplyOutcome:
    message_id: str
    status: MatchKind


# The consent workflow starts just after the coach's request is answered (the session workflow's
# patch consent-child-started-after-answer): a tap in that gap (a button of an older message, or a
# benchmark) waits this long for it rather than being told the request was decided.
CHILD_START_WAIT = 3.0
# How long the webhook waits for the consent workflow to show the decision after a tap's signal (a
# worker answers the query): a tap that lost gets the parent the "already decided" notice.
DECISION_WAIT = 4.0
# One look at the decision within that wait (a query, or the closed workflow's result).
QUERY_WAIT = 0.5


class ParentReplyService:
    def __init__(
        self,
        inbound: InboundRepository,
        temporal: Client,
        task_queue: str,
        child_start_wait: float = CHILD_START_WAIT,
        decision_wait: float = DECISION_WAIT,
    ) -> None:
        self._inbound = inbound
        self._temporal = temporal
        self._task_queue = task_queue
        self._child_start_wait = child_start_wait
        self._decision_wait = decision_wait

    async def handle(self, reply: InboundReply) -> ReplyOutcome:
        match = await self._inbound.record_reply(reply)
        log_context = {
            "inbound_message_id": reply.provider_message_id,
            "session_id": str(match.session_id),
            "workflow_id": match.consent_workflow_id,
            "outcome": match.kind,
        }
        if match.reason is not None:
            # Signed by the provider yet not acceptable (another family's message, an ambiguous
            # number): nothing happens, and ops can see who tried.
            log.warning(
                "parent reply ignored",
                extra=log_context | {"reason": match.reason, "context_message_id": reply.context_message_id},
            )
            return ReplyOutcome(reply.provider_message_id, match.kind)
        if match.kind == "signalled":
            assert match.consent_workflow_id and reply.choice and match.session_id
            parent_reply = ParentReply(choice=reply.choice, inbound_message_id=reply.provider_message_id)
            try:
                signalled = await self.signal(match.consent_workflow_id, parent_reply)
            except BaseException:
                await self._inbound.signal_failed(reply.provider_message_id)
                raise
            if signalled:
                # Only now: had the signal failed (Temporal down: a 503), the redelivery signals again.
                await self._inbound.mark_signalled(reply.provider_message_id)
            if not signalled or await self._lost(match.consent_workflow_id, parent_reply):
                # Decided before this tap (it closed between our read and the signal, or another tap,
                # the coach or the timer got there first): the parent still hears back, once per
                # request: the one this tap was matched to, even if a newer one is pending by now.
                late_id = await self._inbound.queue_late_notice(reply, match.session_id)
                await self._deliver(late_id)
                log.info("late reply", extra=log_context | {"outcome": "late"})
                return ReplyOutcome(reply.provider_message_id, "late")
        elif match.kind == "late" and match.late_message_id is not None:
            await self._deliver(match.late_message_id)
        log.info("parent reply", extra=log_context)
        return ReplyOutcome(reply.provider_message_id, match.kind)

    async def _lost(self, workflow_id: str, reply: ParentReply) -> bool:
        """Whether the consent workflow holds another decision than this tap's (asked of the workflow,
        within ``decision_wait``; no answer counts as not lost). A "Call Me" is asked once: it decides
        nothing, so only a decision already there means it came too late.

        Each look is short: a query sent just as the workflow closes can go unanswered, and the next
        look then reads the closed workflow's result from its history instead."""
        handle = self._temporal.get_workflow_handle(workflow_id, result_type=ConsentDecision)
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self._decision_wait
        while True:
            try:
                decision = await asyncio.wait_for(self._decision(handle), min(QUERY_WAIT, give_up_at - loop.time()))
            except TimeoutError:
                decision = None
            except (RPCError, WorkflowFailureError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
                return False
            if decision is not None:
                return decision.token != reply.inbound_message_id
            if reply.choice is ConsentChoice.CALL_ME or loop.time() >= give_up_at - 0.01:
                return False
            await asyncio.sleep(0.05)

    @staticmethod
    async def _decision(handle: WorkflowHandle[Any, ConsentDecision]) -> ConsentDecision | None:
        """The consent workflow's decision so far: queried while it runs, its result once closed."""
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return await handle.result()
        return await handle.query(CancellationConsentWorkflow.decision)

    async def signal(self, workflow_id: str, reply: ParentReply) -> bool:
        """Signal the consent workflow; False when it has closed (or never started within the wait)."""
        handle = self._temporal.get_workflow_handle(workflow_id)
        loop = asyncio.get_running_loop()
        give_up_at, pause = loop.time() + self._child_start_wait, 0.02
        while True:
            try:
                await handle.signal(CancellationConsentWorkflow.parent_reply, reply)
                return True
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
            status = await self._status(workflow_id)
            if status == WorkflowExecutionStatus.RUNNING:
                continue  # it started between our signal and this look: signal again at once
            if status is not None or loop.time() >= give_up_at:
                return False  # it ran and closed: decided already (or it never started: lapsed)
            await asyncio.sleep(pause)  # not started yet: wait a little
            pause = min(pause * 2, 0.25)

    async def _status(self, workflow_id: str) -> WorkflowExecutionStatus | None:
        """The workflow's status; None when it does not exist (yet)."""
        try:
            return (await self._temporal.get_workflow_handle(workflow_id).describe()).status
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            return None

    async def _deliver(self, message_id: object) -> None:
        try:
            await self._temporal.start_workflow(
                OutboxDeliveryWorkflow.run,
                OutboxDeliveryInput(message_ids=[message_id]),  # type: ignore[list-item]
                id=message_delivery_workflow_id(message_id),
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass  # a redelivered webhook: already on its way
