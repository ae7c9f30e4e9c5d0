"""The parent's taps: record, match, then signal the consent workflow (or tell the parent it's decided)."""

import logging
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from coach_sessions.contracts import OutboxDeliveryInput, ParentReply
from coach_sessions.repositories.inbound import InboundReply, InboundRepository, MatchKind
from workflows.consent import CancellationConsentWorkflow
from workflows.outbox import OutboxDeliveryWorkflow

log = logging.getLogger("coach_sessions.webhooks")


@dataclass(frozen=True)
class ReplyOutcome:
    message_id: str
    status: MatchKind


class ConsentReplyService:
    def __init__(self, inbound: InboundRepository, temporal: Client, task_queue: str) -> None:
        self._inbound = inbound
        self._temporal = temporal
        self._task_queue = task_queue

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
            try:
                await self._temporal.get_workflow_handle(match.consent_workflow_id).signal(
                    CancellationConsentWorkflow.parent_reply,
                    ParentReply(choice=reply.choice, inbound_message_id=reply.provider_message_id),
                )
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                # Decided (and closed) between our read and the signal: the parent still hears back.
                late_id = await self._inbound.queue_late_notice(reply, match.session_id)
                await self._deliver(late_id)
                log.info("late reply", extra=log_context | {"outcome": "late"})
                return ReplyOutcome(reply.provider_message_id, "late")
        elif match.kind == "late" and match.late_message_id is not None:
            await self._deliver(match.late_message_id)
        log.info("parent reply", extra=log_context)
        return ReplyOutcome(reply.provider_message_id, match.kind)

    async def _deliver(self, message_id: object) -> None:
        try:
            await self._temporal.start_workflow(
                OutboxDeliveryWorkflow.run,
                OutboxDeliveryInput(message_ids=[message_id]),  # type: ignore[list-item]
                id=f"deliver-{message_id}",
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass  # a redelivered webhook: already on its way
