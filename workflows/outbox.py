"""OutboxDeliveryWorkflow: delivers messages queued outside any session workflow (e.g. by a webhook)."""

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.messaging import MessagingActivities
    from workflows.inputs import DeliverMessageInput, OutboxDeliveryInput
    from workflows.session_policies import deliver_message_options


@workflow.defn
class OutboxDeliveryWorkflow:
    @workflow.run
    async def run(self, request: OutboxDeliveryInput) -> list[str]:
        statuses = []
        for message_id in request.message_ids:
            try:
                statuses.append(
                    await workflow.execute_activity_method(
                        MessagingActivities.deliver_message,
                        DeliverMessageInput(message_id=message_id),
                        **deliver_message_options(),
                    )
                )
            except ActivityError as error:
                workflow.logger.error(
                    "message not delivered", extra={"message_id": str(message_id), "error": str(error.cause)}
                )
                statuses.append("failed")
        return statuses
