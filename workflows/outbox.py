"""OutboxDeliveryWorkflow: delivers messages queued outside any session workflow (e.g. by a webhook)."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import OutboxDeliveryInput
    from workflows.steps import deliver_message


@workflow.defn
class OutboxDeliveryWorkflow:
    @workflow.run
    async def run(self, request: OutboxDeliveryInput) -> list[str]:
        return [await deliver_message(message_id) for message_id in request.message_ids]
