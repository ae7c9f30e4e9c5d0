"""Timeouts and retry policies shared by the workflows (one place to tune them), and message delivery."""

from datetime import timedelta
from uuid import UUID

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.errors import CALENDAR_REJECTED, MESSAGE_REJECTED
    from activities.messaging import MessagingActivities
    from workflows.inputs import DeliverMessageInput

DB_ACTIVITY_TIMEOUT = timedelta(seconds=10)
DB_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)

# A calendar outage heals on its own: retry with backoff for up to a day, then report "failed".
CALENDAR_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=[CALENDAR_REJECTED],
)
CALENDAR_GIVE_UP_AFTER = timedelta(days=1)

MESSAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[MESSAGE_REJECTED],
)
MESSAGE_GIVE_UP_AFTER = timedelta(hours=12)


async def deliver_message(message_id: UUID) -> str:
    """Deliver one outbox message; its final failure is logged, never raised.

    The outbox row records what happened for ops; no session state depends on a message.
    """
    try:
        return await workflow.execute_activity_method(
            MessagingActivities.deliver_message,
            DeliverMessageInput(message_id=message_id),
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=MESSAGE_GIVE_UP_AFTER,
            retry_policy=MESSAGE_RETRY,
        )
    except ActivityError as error:
        workflow.logger.error("message not delivered", extra={"message_id": str(message_id), "error": str(error.cause)})
        return "failed"
