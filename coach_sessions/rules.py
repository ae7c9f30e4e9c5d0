"""The session rules the API shows and the transitions enforce: one implementation for both."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.statuses import (
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


def _span(length: timedelta) -> str:
    """A length as a coach says it ("3 hours", "2 days"): the refusal is read on a page, not parsed
    (its notice_ends_at context carries the instant)."""
    minutes = max(int(length.total_seconds() // 60), 1)
    if minutes >= 2 * 24 * 60:
        return f"{minutes // (24 * 60)} days"
    if minutes >= 120:
        return f"{minutes // 60} hours"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def inside_minimum_notice(scheduled_at: datetime, now: datetime, notice: timedelta | None) -> bool:
    """A session starting within the coach's minimum notice (COACH_MIN_NOTICE; 0 or None: no notice).

    Only a session still to come: one whose start has passed (pending, say) is being resolved, not
    moved at short notice."""
    return bool(notice) and now < scheduled_at < now + (notice or timedelta(0))


def callback_notice_due(last_notice_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """Whether a parent's "Call Me" notifies the coach: not when the same request already did within
    ``window`` (0: every tap notifies)."""
    return last_notice_at is None or now - last_notice_at >= window


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
    if (error := _finished(session_number, status)) is not None:
        raise error


def refuse_unless_cancellation_pending(session_number: int | None, cancellation_status: str | None) -> None:
    """Withdrawing or deciding a cancellation needs a request awaiting the parent's answer (None: a
    workflow that has not loaded its session yet, so has no request either)."""
    if (error := _no_request_pending(session_number, cancellation_status)) is not None:
        raise error


# ----- one rule per button ----------------------------------------------------------------------------
# What the session's own state says about each action a coach's page offers. ``refusal`` is the one
# place these are decided: ``transitions.plan`` raises what it returns (inside the transaction that
# holds the row locks), and ``SessionView`` shows ``refusal(...) is None`` as each ``can_*`` flag with
# the refusal's code and sentence, so a button and the API's answer cannot disagree.


class Button(StrEnum):
    COMPLETE = "complete"
    MARK_MISSED = "mark_missed"
    RESCHEDULE = "reschedule"
    REQUEST_CANCEL = "request_cancel"
    WITHDRAW_CANCEL = "withdraw_cancel"
    CANCEL = "cancel"  # the admin's direct cancellation (a coach's goes through REQUEST_CANCEL)


# The resolving actions need a started, unlocked session; the moving ones respect the coach's notice.
_RESOLVING = frozenset({Button.COMPLETE, Button.MARK_MISSED})
_MOVING = frozenset({Button.RESCHEDULE, Button.REQUEST_CANCEL})


@dataclass(frozen=True)
class SessionFacts:
    """What the rules read of a session: its row and the earliest unresolved session before it."""

    session_number: int
    status: str
    cancellation_status: str | None
    scheduled_at: datetime
    blocking_session_number: int | None


def role_refusal(button: Button, role: str) -> DomainError | None:
    """Who may press the button at all: cancelling is the admin's, asking the parent the coach's."""
    if button is Button.CANCEL and role != "admin":
        return DomainError(
            ErrorCode.PARENT_CONSENT_REQUIRED,
            "Coaches cancel with the parent's consent: POST /api/sessions/request-cancel.",
        )
    if button is Button.REQUEST_CANCEL and role == "admin":
        return DomainError(
            ErrorCode.FORBIDDEN, "Admins cancel directly (DELETE /api/sessions); this is the coach's flow."
        )
    return None


def refusal(
    button: Button, facts: SessionFacts, *, role: str, now: datetime, minimum_notice: timedelta | None
) -> DomainError | None:
    """Why ``role`` pressing ``button`` now would be refused, or None when the action would be accepted.

    Only the session's state and the caller's role: what the caller sends (a new time in the past, a
    reason too short) is checked against the request itself."""
    number = facts.session_number
    if (by_role := role_refusal(button, role)) is not None:
        return by_role
    if button is Button.WITHDRAW_CANCEL:
        return _no_request_pending(number, facts.cancellation_status) or _finished(number, facts.status)
    if (finished := _finished(number, facts.status)) is not None:
        return finished
    if facts.cancellation_status == CancellationStatus.PENDING:
        return DomainError(
            ErrorCode.CANCELLATION_PENDING,
            f"A cancellation request for session {number} is awaiting the parent's answer; withdraw it first.",
        )
    if button in _MOVING and role == "coach" and inside_minimum_notice(facts.scheduled_at, now, minimum_notice):
        assert minimum_notice is not None
        notice_ends_at = now + minimum_notice
        return DomainError(
            ErrorCode.INSIDE_MINIMUM_NOTICE,
            f"Session {number} starts in {_span(facts.scheduled_at - now)}, inside the minimum notice of"
            f" {_span(minimum_notice)} for a coach's reschedule or cancellation; ask an admin to do it.",
            notice_ends_at=notice_ends_at.isoformat(),
        )
    if button in _RESOLVING:
        if not has_started(facts.scheduled_at, now):
            return DomainError(
                ErrorCode.SESSION_NOT_STARTED,
                f"Session {number} has not started yet.",
                scheduled_at=facts.scheduled_at.isoformat(),
            )
        if facts.blocking_session_number is not None:
            blocking = facts.blocking_session_number
            return DomainError(ErrorCode.SESSION_LOCKED, lock_reason(blocking) or "", blocking_session_number=blocking)
    return None


def refuse(button: Button, facts: SessionFacts, *, role: str, now: datetime, minimum_notice: timedelta | None) -> None:
    """``refusal`` as an exception: what the transitions and the API raise."""
    if (error := refusal(button, facts, role=role, now=now, minimum_notice=minimum_notice)) is not None:
        raise error


def _finished(session_number: int, status: str) -> DomainError | None:
    if SessionStatus(status) in TERMINAL_STATUSES:
        return DomainError(
            ErrorCode.INVALID_STATUS,
            f"Session {session_number} is {status}; this action is not possible.",
            current_status=status,
        )
    return None


def _no_request_pending(session_number: int | None, cancellation_status: str | None) -> DomainError | None:
    if cancellation_status != CancellationStatus.PENDING:
        session = f"Session {session_number}" if session_number is not None else "The session"
        return DomainError(
            ErrorCode.NO_CANCELLATION_PENDING,
            f"{session} has no cancellation request awaiting an answer.",
            cancellation_status=cancellation_status,
        )
    return None
