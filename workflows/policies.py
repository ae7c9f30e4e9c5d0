"""Every timeout and retry policy the workflows use, in one place to tune them."""

from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.workflow import unsafe

with unsafe.imports_passed_through():
    from activities.errors import CALENDAR_REJECTED, MESSAGE_REJECTED, MODEL_REJECTED
    from coach_sessions.errors import ErrorCode

# Domain refusals raised by activities (non-retryable already; listed so the policy reads complete).
BUSINESS_FAILURES = [ErrorCode.SESSION_NOT_FOUND]

# Database work runs as local activities. A database that is down (or restarting) delays the work, it
# never loses it: attempts go on until Postgres answers. A committed transition is found again by its
# request id, so the workflow always ends up holding what the database holds; a caller that stopped
# waiting is protected by its deadline (see coach_sessions/contracts.py), not by giving up here.
DB_ACTIVITY_TIMEOUT = timedelta(seconds=10)
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
)

# Creating an enrollment's sessions (a regular activity: it may take a few seconds for many sessions).
ENROLLMENT_ACTIVITY_TIMEOUT = timedelta(seconds=30)
ENROLLMENT_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=10)

# A calendar outage heals on its own: retry with backoff for up to a day, then report "failed".
CALENDAR_CALL_TIMEOUT = timedelta(seconds=30)
CALENDAR_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=[CALENDAR_REJECTED],
)
CALENDAR_GIVE_UP_AFTER = timedelta(days=1)

# WhatsApp: retry what was surely not sent for up to 12 h; a refusal is final.
MESSAGE_CALL_TIMEOUT = timedelta(seconds=30)
MESSAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[MESSAGE_REJECTED],
)
MESSAGE_GIVE_UP_AFTER = timedelta(hours=12)

# The pre-session brief. Gemini's 429, 5xx and transport errors retry with backoff; other 4xx and an
# unusable answer (MODEL_REJECTED) fail at once. A coach waiting on the page gets three quick attempts
# (~2 s) and then the last stored brief; the timer's generation ahead of the session keeps trying longer.
BRIEF_CALL_TIMEOUT = timedelta(seconds=60)
BRIEF_ON_DEMAND_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_attempts=3,
    non_retryable_error_types=[MODEL_REJECTED, *BUSINESS_FAILURES],
)
BRIEF_AHEAD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=[MODEL_REJECTED, *BUSINESS_FAILURES],
)
BRIEF_AHEAD_GIVE_UP_AFTER = timedelta(minutes=30)

# Embedding new events: a model outage heals; the next brief also catches up on what is missing.
EMBED_ACTIVITY_TIMEOUT = timedelta(minutes=2)
EMBED_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[MODEL_REJECTED],
)
EMBED_GIVE_UP_AFTER = timedelta(hours=1)

# One retention pass (batched statements over the message tables); retried like any database work.
RETENTION_ACTIVITY_TIMEOUT = timedelta(minutes=10)

# Erasing a child: each step is idempotent and must finish, so it retries until it does (a database or
# Temporal outage delays the erasure, never loses it; its row says "under way" meanwhile).
ERASURE_ACTIVITY_TIMEOUT = timedelta(minutes=5)
ERASURE_HEARTBEAT_TIMEOUT = timedelta(minutes=1)
# A reassignment's steps heartbeat after each event or session: a dead worker's step is retried sooner.
REASSIGNMENT_HEARTBEAT_TIMEOUT = timedelta(seconds=30)
ERASURE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
