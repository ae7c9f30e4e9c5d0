"""Timeouts and retry policies shared by the workflows (one place to tune them)."""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.errors import CALENDAR_REJECTED, MESSAGE_REJECTED

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


def deliver_message_options() -> dict[str, Any]:
    return {
        "start_to_close_timeout": timedelta(seconds=30),
        "schedule_to_close_timeout": MESSAGE_GIVE_UP_AFTER,
        "retry_policy": MESSAGE_RETRY,
    }
