"""The session rules the API shows and the transitions enforce: one implementation for both."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.statuses import (
    ACTIONABLE_STATUSES,
    RESOLVED_STATUSES,
    TERMINAL_STATUSES,
    CancellationStatus,
    SessionStatus,
)

# Each notice to the coach is a paid WhatsApp message: a parent tapping "Call Me" twenty times gets the
# coach one notice per request within this window, not twenty (the CALLBACK_NOTICE_WINDOW default).
CALLBACK_NOTICE_WINDOW = timedelta(minutes=30)


def blocking_session_number(session_number: int, siblings: Iterable[tuple[int, str]]) -> int | None:
    """The lowest-numbered earlier session of the same enrollment that is still unresolved."""
    earlier = [
        number
        for number, status in siblings
        if number < session_number and SessionStatus(status) not in RESOLVED_STATUSES
    ]
    return min(earlier) if earlier else None


def lock_reason(blocking_number: int | None) -> str | None:
    if blocking_number is None:
        return None
    return f"Session {blocking_number} must be completed, missed, cancelled or rescheduled first."


def has_started(scheduled_at: datetime, now: datetime) -> bool:
    return scheduled_at <= now


def can_mark_missed(status: str, scheduled_at: datetime, now: datetime) -> bool:
    """The note's orange button: only for a session whose start has passed and is not resolved."""
    return has_started(scheduled_at, now) and SessionStatus(status) in ACTIONABLE_STATUSES


def inside_minimum_notice(scheduled_at: datetime, now: datetime, notice: timedelta | None) -> bool:
    """A session starting within the coach's minimum notice (COACH_MIN_NOTICE; 0 or None: no notice).

    Only a session still to come: one whose start has passed (pending, say) is being resolved, not
    moved at short notice."""
    return bool(notice) and now < scheduled_at < now + (notice or timedelta(0))


def callback_notice_due(last_notice_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """Whether a parent's "Call Me" notifies the coach: not when the same request already did within
    ``window`` (0: every tap notifies)."""
    return last_notice_at is None or now - last_notice_at >= window


def coach_may_move(
    status: str, cancellation_status: str, scheduled_at: datetime, now: datetime, notice: timedelta | None
) -> bool:
    """Whether the session's coach may reschedule it or ask to cancel it now (the page's buttons)."""
    return (
        SessionStatus(status) in ACTIONABLE_STATUSES
        and cancellation_status != CancellationStatus.PENDING
        and not inside_minimum_notice(scheduled_at, now, notice)
    )


def refuse_after_deadline(deadline: datetime | None, now: datetime) -> None:
    """An action reaching the database after its caller stopped waiting (the API answered 503) is
    refused unapplied, so that caller never finds it applied later. None: no deadline (old inputs)."""
    if deadline is not None and now > deadline:
        raise DomainError(
            ErrorCode.TEMPORARILY_UNAVAILABLE,
            "The action reached the service after its caller stopped waiting; it was not applied.",
        )


def refuse_when_finished(session_number: int, status: str) -> None:
    """No action changes a finished session (completed, missed or cancelled): the API answers it
    without asking the workflow, the workflow's validators before anything is written to history, and
    the transition inside its transaction."""
    if SessionStatus(status) in TERMINAL_STATUSES:
        raise DomainError(
            ErrorCode.INVALID_STATUS,
            f"Session {session_number} is {status}; this action is not possible.",
            current_status=status,
        )


def refuse_unless_cancellation_pending(session_number: int | None, cancellation_status: str | None) -> None:
    """Withdrawing or deciding a cancellation needs a request awaiting the parent's answer (None: a
    workflow that has not loaded its session yet, so has no request either)."""
    if cancellation_status != CancellationStatus.PENDING:
        session = f"Session {session_number}" if session_number is not None else "The session"
        raise DomainError(
            ErrorCode.NO_CANCELLATION_PENDING,
            f"{session} has no cancellation request awaiting an answer.",
            cancellation_status=cancellation_status,
        )
