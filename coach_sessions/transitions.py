"""What each session action changes, or why it is refused. Pure functions: no I/O.

``activities/sessions.py`` runs ``plan`` inside the transaction that holds the session's row locks,
then writes the columns, the learning event and the queued messages it returns.
"""

from dataclasses import dataclass, replace
from typing import Any

from coach_sessions import rules
from coach_sessions.contracts import SessionAction, TransitionRequest
from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.statuses import (
    CalendarSyncStatus,
    CancellationStatus,
    DecidedBy,
    LearningEventType,
    SessionStatus,
)
from coach_sessions.templates import (
    CANCELLATION_REQUEST,
    CANCELLATION_WITHDRAWN,
    COACH_CALLBACK_REQUESTED,
    COACH_CANCELLATION_APPROVED,
    COACH_CANCELLATION_REJECTED,
    SESSION_NOSHOW,
    SESSION_NOSHOW_MESSAGE,
    SESSION_RESCHEDULED,
    SESSION_SUMMARY,
    Recipient,
    format_when,
)
from coach_sessions.temporal import consent_workflow_id


@dataclass(frozen=True)
class Change:
    columns: dict[str, Any]
    event_type: LearningEventType
    event_data: dict[str, Any]
    sentence: str
    messages: tuple[tuple[str, Recipient], ...] = ()
    calendar_sync: bool = False


def _with_text(sentence: str, text: str | None) -> str:
    return f"{sentence}: {text.strip()}" if text and text.strip() else sentence


def plan(request: TransitionRequest, row: dict[str, Any], blocking: int | None, timezone: str) -> Change:
    """Refuse the action (``DomainError``) or say what it changes."""
    number = row["session_number"]
    action = request.action

    if action in _CONSENT_OUTCOMES:
        rules.refuse_unless_cancellation_pending(number, row["cancellation_status"])
        return _CONSENT_OUTCOMES[action](request, row)

    facts = rules.SessionFacts(
        number, row["status"], row["cancellation_status"], row["scheduled_at"], blocking_session_number=blocking
    )
    # The one rule per action that the session view also shows as its can_* flags.
    rules.refuse(
        _BUTTON_OF[action], facts, role=request.actor.role, now=request.now, minimum_notice=request.minimum_notice
    )

    if action in (SessionAction.COMPLETE, SessionAction.MARK_MISSED):
        notes = request.notes if request.notes else row["coach_notes"]
        if action is SessionAction.COMPLETE:
            return Change(
                columns={
                    "status": SessionStatus.COMPLETED.value,
                    "completed_at": request.now,
                    "coach_notes": notes,
                },
                event_type=LearningEventType.SESSION_COMPLETED,
                event_data={"session_number": number, "notes": request.notes, "parent_message": request.parent_message},
                sentence=_with_text(f"Session {number} completed", request.notes),
                # The summary carries ``parent_message`` (or a neutral sentence), never the notes.
                messages=((SESSION_SUMMARY, "parent"),),
            )
        noshow = SESSION_NOSHOW_MESSAGE if request.parent_message else SESSION_NOSHOW
        return Change(
            columns={"status": SessionStatus.MISSED.value, "coach_notes": notes},
            event_type=LearningEventType.SESSION_MISSED,
            event_data={
                "session_number": number,
                "notes": request.notes,
                "parent_notified": request.notify_parent,
                "parent_message": request.parent_message if request.notify_parent else None,
            },
            sentence=_with_text(f"Session {number} missed", request.notes),
            messages=((noshow, "parent"),) if request.notify_parent else (),
        )

    if action is SessionAction.RESCHEDULE:
        new_at = request.new_scheduled_at
        if new_at is None or new_at <= request.now:
            raise DomainError(ErrorCode.TIME_IN_PAST, "The new time must be in the future.")
        old_at = row["scheduled_at"]
        return Change(
            columns={
                "status": SessionStatus.RESCHEDULED.value,
                "scheduled_at": new_at,
                "calendar_sync_status": CalendarSyncStatus.PENDING.value,
            },
            event_type=LearningEventType.SESSION_RESCHEDULED,
            event_data={
                "session_number": number,
                "old_scheduled_at": old_at.isoformat(),
                "new_scheduled_at": new_at.isoformat(),
                "reason": request.reason,
            },
            sentence=_with_text(
                f"Session {number} rescheduled from {format_when(old_at, timezone)} to {format_when(new_at, timezone)}",
                request.reason,
            ),
            messages=((SESSION_RESCHEDULED, "parent"),),  # the parent hears of the new time
            calendar_sync=True,
        )

    if action is SessionAction.CANCEL:
        return _cancelled(request, row, approved_by=request.actor.role, notify_coach=False)

    if action is SessionAction.REQUEST_CANCELLATION:
        assert request.consent_window is not None and request.reason
        expires_at = request.now + request.consent_window
        count = row["cancellation_request_count"] + 1
        return Change(
            columns={
                "cancellation_status": CancellationStatus.PENDING.value,
                "cancellation_requested_at": request.now,
                "cancellation_reason": request.reason,
                "cancellation_expires_at": expires_at,
                "cancellation_decided_by": None,
                "cancellation_decided_at": None,
                "cancellation_request_count": count,
                "consent_workflow_id": consent_workflow_id(row["id"], count),
            },
            event_type=LearningEventType.CANCELLATION_REQUESTED,
            event_data={
                "session_number": number,
                "reason": request.reason,
                "expires_at": expires_at.isoformat(),
            },
            sentence=_with_text(f"Cancellation of session {number} requested by the coach", request.reason),
            messages=((CANCELLATION_REQUEST, "parent"),),
        )
    raise AssertionError(f"unplanned action {action}")


def _cancelled(request: TransitionRequest, row: dict[str, Any], *, approved_by: str, notify_coach: bool) -> Change:
    number = row["session_number"]
    reason = request.reason or row["cancellation_reason"]
    columns: dict[str, Any] = {
        "status": SessionStatus.CANCELLED.value,
        "coach_notes": reason,
        "calendar_sync_status": CalendarSyncStatus.PENDING.value,
    }
    if row["cancellation_status"] == CancellationStatus.PENDING:
        columns |= {
            "cancellation_status": CancellationStatus.APPROVED.value,
            "cancellation_decided_by": approved_by,
            "cancellation_decided_at": request.now,
        }
    return Change(
        columns=columns,
        event_type=LearningEventType.SESSION_CANCELLED,
        event_data={"session_number": number, "reason": reason, "approved_by": approved_by},
        sentence=_with_text(f"Session {number} cancelled", reason),
        messages=((COACH_CANCELLATION_APPROVED, "coach"),) if notify_coach else (),
        calendar_sync=True,
    )


def _approve(request: TransitionRequest, row: dict[str, Any]) -> Change:
    rules.refuse_when_finished(row["session_number"], row["status"])
    return _cancelled(request, row, approved_by=request.decided_by or DecidedBy.AUTO.value, notify_coach=True)


def _reject(request: TransitionRequest, row: dict[str, Any]) -> Change:
    number = row["session_number"]
    decided_by = request.decided_by or DecidedBy.PARENT.value
    return Change(
        columns={
            "cancellation_status": CancellationStatus.REJECTED.value,
            "cancellation_decided_by": decided_by,
            "cancellation_decided_at": request.now,
        },
        event_type=LearningEventType.CANCELLATION_REJECTED,
        event_data={"session_number": number, "decided_by": decided_by},
        sentence=f"Cancellation of session {number} declined by the {decided_by}: a new time is wanted",
        messages=((COACH_CANCELLATION_REJECTED, "coach"),),
    )


def _withdraw(request: TransitionRequest, row: dict[str, Any]) -> Change:
    number = row["session_number"]
    # The coach withdraws; "system" when the consent process failed and the request lapsed.
    decided_by = request.decided_by if request.decided_by == DecidedBy.SYSTEM else DecidedBy.COACH.value
    by = "the coach" if decided_by == DecidedBy.COACH else "the system (the consent process failed)"
    return Change(
        columns={
            "cancellation_status": CancellationStatus.NONE.value,
            "cancellation_decided_by": decided_by,
            "cancellation_decided_at": request.now,
        },
        event_type=LearningEventType.CANCELLATION_WITHDRAWN,
        event_data={"session_number": number, "decided_by": decided_by},
        sentence=f"Cancellation request for session {number} withdrawn by {by}: the session stands",
        messages=((CANCELLATION_WITHDRAWN, "parent"),),
    )


def _callback(request: TransitionRequest, row: dict[str, Any]) -> Change:
    number = row["session_number"]
    return Change(
        columns={},
        event_type=LearningEventType.PARENT_CALLBACK_REQUESTED,
        event_data={"session_number": number, "coach_notified": True},
        sentence=f"Parent asked the coach to call about cancelling session {number}",
        messages=((COACH_CALLBACK_REQUESTED, "coach"),),
    )


def repeated_callback(change: Change, session_number: int) -> Change:
    """A "Call Me" the coach was already told of (``rules.callback_notice_due``): the tap is recorded,
    and no second paid notice is queued."""
    return replace(
        change,
        event_data=change.event_data | {"coach_notified": False},
        sentence=f"Parent asked again for a call about cancelling session {session_number}; the coach was already told",
        messages=(),
    )


# The button each action of a coach or admin is (the consent outcomes have their own checks).
_BUTTON_OF = {
    SessionAction.COMPLETE: rules.Button.COMPLETE,
    SessionAction.MARK_MISSED: rules.Button.MARK_MISSED,
    SessionAction.RESCHEDULE: rules.Button.RESCHEDULE,
    SessionAction.REQUEST_CANCELLATION: rules.Button.REQUEST_CANCEL,
    SessionAction.CANCEL: rules.Button.CANCEL,
}

_CONSENT_OUTCOMES = {
    SessionAction.APPROVE_CANCELLATION: _approve,
    SessionAction.REJECT_CANCELLATION: _reject,
    SessionAction.WITHDRAW_CANCELLATION: _withdraw,
    SessionAction.PARENT_CALLBACK: _callback,
}
