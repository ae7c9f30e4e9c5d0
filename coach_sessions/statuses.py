"""Every status, event type and template name the system knows, in one place.

The SQL CHECK constraints in ``migrations/`` list the same values; a test keeps both in step.
"""

from enum import StrEnum


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    PENDING = "pending"
    COMPLETED = "completed"
    MISSED = "missed"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"


# A session in one of these no longer blocks the sessions after it (the product note's "resolution statuses").
RESOLVED_STATUSES: frozenset[SessionStatus] = frozenset(
    {
        SessionStatus.COMPLETED,
        SessionStatus.MISSED,
        SessionStatus.CANCELLED,
        SessionStatus.RESCHEDULED,
    }
)

# No action can change a session in one of these any more; its workflow ends.
TERMINAL_STATUSES: frozenset[SessionStatus] = frozenset(
    {SessionStatus.COMPLETED, SessionStatus.MISSED, SessionStatus.CANCELLED}
)

# Statuses from which a coach may complete a session or mark it missed (once its start has passed).
ACTIONABLE_STATUSES: frozenset[SessionStatus] = frozenset(
    {SessionStatus.SCHEDULED, SessionStatus.PENDING, SessionStatus.RESCHEDULED}
)


class CancellationStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class CalendarSyncStatus(StrEnum):
    SYNCED = "synced"
    PENDING = "pending"
    FAILED = "failed"


class LearningEventType(StrEnum):
    SESSION = "session"
    ASSESSMENT = "assessment"
    VIDEO = "video"
    QUIZ = "quiz"
    BADGE = "badge"
    STREAK = "streak"
    LEVEL_UP = "level_up"
    DAILY_RECOMMENDATIONS = "daily_recommendations"
    SESSION_COMPLETED = "session_completed"
    SESSION_CANCELLED = "session_cancelled"
    SESSION_RESCHEDULED = "session_rescheduled"
    SESSION_MISSED = "session_missed"
    CANCELLATION_REQUESTED = "cancellation_requested"
    CANCELLATION_REJECTED = "cancellation_rejected"
    CANCELLATION_WITHDRAWN = "cancellation_withdrawn"
    PARENT_CALLBACK_REQUESTED = "parent_callback_requested"
    HOMEWORK_ASSIGNED = "homework_assigned"
    HOMEWORK_COMPLETED = "homework_completed"
    ENROLLMENT_ENDED = "enrollment_ended"  # an admin ended the enrolment early (migration 0019)
    COACH_REASSIGNED = "coach_reassigned"  # an admin moved the child to another coach (migration 0020)


# Written only by the service itself (a transition, the homework endpoints): a coach or admin posting
# one through POST /api/learning-events would read as a real system event in the brief and progress.
SYSTEM_EVENT_TYPES: frozenset[LearningEventType] = frozenset(
    {
        LearningEventType.SESSION_COMPLETED,
        LearningEventType.SESSION_CANCELLED,
        LearningEventType.SESSION_RESCHEDULED,
        LearningEventType.SESSION_MISSED,
        LearningEventType.CANCELLATION_REQUESTED,
        LearningEventType.CANCELLATION_REJECTED,
        LearningEventType.CANCELLATION_WITHDRAWN,
        LearningEventType.PARENT_CALLBACK_REQUESTED,
        LearningEventType.HOMEWORK_ASSIGNED,
        LearningEventType.HOMEWORK_COMPLETED,
        LearningEventType.ENROLLMENT_ENDED,
        LearningEventType.COACH_REASSIGNED,
    }
)
AUTHORED_EVENT_TYPES = sorted(t.value for t in LearningEventType if t not in SYSTEM_EVENT_TYPES)


class ConsentChoice(StrEnum):
    """The parent's quick-reply buttons on the p26 cancellation request."""

    APPROVE = "approve"
    RESCHEDULE = "reschedule"
    CALL_ME = "call_me"


class DecidedBy(StrEnum):
    PARENT = "parent"
    AUTO = "auto"  # the consent window ran out
    ADMIN = "admin"
    COACH = "coach"  # withdrew the request
    SYSTEM = "system"  # the consent process failed: the request lapsed and the session stands


class Role(StrEnum):
    COACH = "coach"
    ADMIN = "admin"


class MessageStatus(StrEnum):
    """Life of an outbound WhatsApp message in the outbox."""

    QUEUED = "queued"  # written with the state change, not yet handed to the provider
    SENDING = "sending"  # claimed by a delivery attempt
    SENT = "sent"  # the provider accepted it
    IN_DOUBT = "in_doubt"  # an attempt died mid-send: never resent automatically, ops decide
    FAILED = "failed"  # the provider refused it for good (4xx)
    DROPPED = "dropped"  # a human decided on the ops desk not to send it (migration 0017)
