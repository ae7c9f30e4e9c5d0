"""The pure ``plan()`` rules, every action against every state, with no database and no Temporal.

The table below restates the product rules independently of the code: for each action, status,
consent state, lock state, when the session starts (started, inside the coach's minimum notice, later)
and who acts (coach or admin), the refusal code or the resulting status / learning event / messages.
``plan()`` must agree on every one of the combinations.
"""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import uuid4

import pytest

from coach_sessions.contracts import Actor, SessionAction, TransitionRequest
from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.models import SessionRecord, SessionView
from coach_sessions.statuses import CancellationStatus, LearningEventType, SessionStatus
from coach_sessions.templates import (
    CANCELLATION_REQUEST,
    CANCELLATION_WITHDRAWN,
    COACH_CALLBACK_REQUESTED,
    COACH_CANCELLATION_APPROVED,
    COACH_CANCELLATION_REJECTED,
    SESSION_NOSHOW,
    SESSION_RESCHEDULED,
    SESSION_SUMMARY,
)
from coach_sessions.transitions import plan

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
COACH = Actor(id=uuid4(), role="coach")
NOTICE = timedelta(hours=24)  # the coach's minimum notice in every request below
When = Literal["started", "soon", "later"]  # "soon": starts inside the notice
OPEN = {SessionStatus.SCHEDULED, SessionStatus.PENDING, SessionStatus.RESCHEDULED}
CONSENT_ACTIONS = {
    SessionAction.APPROVE_CANCELLATION,
    SessionAction.REJECT_CANCELLATION,
    SessionAction.WITHDRAW_CANCELLATION,
    SessionAction.PARENT_CALLBACK,
}


def expected(action: SessionAction, status: SessionStatus, consent: bool, locked: bool, when: When, role: str) -> Any:
    """The rule book: an ErrorCode for a refusal, else (new status or None, event type, message templates)."""
    started = when == "started"
    if action in CONSENT_ACTIONS:
        if not consent:
            return ErrorCode.NO_CANCELLATION_PENDING
        if action is SessionAction.APPROVE_CANCELLATION:
            if status not in OPEN:
                return ErrorCode.INVALID_STATUS
            return (SessionStatus.CANCELLED, LearningEventType.SESSION_CANCELLED, [COACH_CANCELLATION_APPROVED])
        return {
            SessionAction.REJECT_CANCELLATION: (
                None,
                LearningEventType.CANCELLATION_REJECTED,
                [COACH_CANCELLATION_REJECTED],
            ),
            SessionAction.WITHDRAW_CANCELLATION: (
                None,
                LearningEventType.CANCELLATION_WITHDRAWN,
                [CANCELLATION_WITHDRAWN],
            ),
            SessionAction.PARENT_CALLBACK: (
                None,
                LearningEventType.PARENT_CALLBACK_REQUESTED,
                [COACH_CALLBACK_REQUESTED],
            ),
        }[action]
    # Who may act at all comes first, as in the API: an admin cancels directly, a coach asks the parent.
    if action is SessionAction.CANCEL and role != "admin":
        return ErrorCode.PARENT_CONSENT_REQUIRED
    if action is SessionAction.REQUEST_CANCELLATION and role == "admin":
        return ErrorCode.FORBIDDEN
    if status not in OPEN:
        return ErrorCode.INVALID_STATUS
    if consent:
        return ErrorCode.CANCELLATION_PENDING
    if action in (SessionAction.RESCHEDULE, SessionAction.REQUEST_CANCELLATION) and role == "coach" and when == "soon":
        return ErrorCode.INSIDE_MINIMUM_NOTICE  # an admin is not bound by the notice
    if action in (SessionAction.COMPLETE, SessionAction.MARK_MISSED):
        # The sequence rule: only a started session, and only once every earlier one is resolved.
        if not started:
            return ErrorCode.SESSION_NOT_STARTED
        if locked:
            return ErrorCode.SESSION_LOCKED
        if action is SessionAction.COMPLETE:
            return (SessionStatus.COMPLETED, LearningEventType.SESSION_COMPLETED, [SESSION_SUMMARY])
        return (SessionStatus.MISSED, LearningEventType.SESSION_MISSED, [SESSION_NOSHOW])
    if action is SessionAction.RESCHEDULE:  # a locked or not-yet-started session can still move
        return (SessionStatus.RESCHEDULED, LearningEventType.SESSION_RESCHEDULED, [SESSION_RESCHEDULED])
    if action is SessionAction.CANCEL:
        return (SessionStatus.CANCELLED, LearningEventType.SESSION_CANCELLED, [])
    assert action is SessionAction.REQUEST_CANCELLATION
    return (None, LearningEventType.CANCELLATION_REQUESTED, [CANCELLATION_REQUEST])


_STARTS = {"started": NOW - timedelta(hours=1), "soon": NOW + timedelta(hours=2), "later": NOW + timedelta(days=2)}


def _row(status: SessionStatus, consent: bool, started: bool | When) -> dict[str, Any]:
    when = started if isinstance(started, str) else ("started" if started else "later")
    return {
        "id": uuid4(),
        "session_number": 3,
        "status": status.value,
        "scheduled_at": _STARTS[when],
        "coach_notes": None,
        "cancellation_status": (CancellationStatus.PENDING if consent else CancellationStatus.NONE).value,
        "cancellation_reason": "family trip" if consent else None,
        "cancellation_request_count": 1 if consent else 0,
    }


def _request(action: SessionAction, role: str = "coach") -> TransitionRequest:
    return TransitionRequest(
        session_id=uuid4(),
        action=action,
        request_id="r1",
        actor=COACH if role == "coach" else Actor(id=uuid4(), role=role),
        minimum_notice=NOTICE,
        now=NOW,
        notes="read two levelled books",
        notify_parent=True,
        new_scheduled_at=NOW + timedelta(days=3),
        reason="coach unwell",
        consent_window=timedelta(hours=48),
        decided_by="parent",
    )


WHENS: list[When] = ["started", "soon", "later"]
CASES = list(itertools.product(SessionAction, SessionStatus, [False, True], [False, True], WHENS, ["coach", "admin"]))


@pytest.mark.parametrize(
    ("action", "status", "consent", "locked", "when", "role"),
    CASES,
    ids=[
        f"{a.value}-{s.value}-{'consent' if c else 'no_consent'}-{'locked' if lk else 'free'}-{w}-{r}"
        for a, s, c, lk, w, r in CASES
    ],
)
def test_plan_agrees_with_the_rule_book(
    action: SessionAction, status: SessionStatus, consent: bool, locked: bool, when: When, role: str
) -> None:
    want = expected(action, status, consent, locked, when, role)
    blocking = 2 if locked else None
    if isinstance(want, str):
        with pytest.raises(DomainError) as refused:
            plan(_request(action, role), _row(status, consent, when), blocking, "Asia/Kolkata")
        assert refused.value.code == want
        return
    new_status, event_type, templates = want
    change = plan(_request(action, role), _row(status, consent, when), blocking, "Asia/Kolkata")
    assert change.columns.get("status") == (new_status.value if new_status else None)
    assert change.event_type == event_type
    assert [template for template, _recipient in change.messages] == templates
    assert change.calendar_sync == (new_status in (SessionStatus.RESCHEDULED, SessionStatus.CANCELLED))


def test_the_table_covers_every_combination() -> None:
    assert len(CASES) == len(SessionAction) * len(SessionStatus) * 2 * 2 * 3 * 2


def test_the_notice_refusal_says_when_the_notice_ends_and_zero_disables_it() -> None:
    row = _row(SessionStatus.SCHEDULED, False, "soon")
    with pytest.raises(DomainError) as refused:
        plan(_request(SessionAction.RESCHEDULE), row, None, "UTC")
    assert refused.value.code == ErrorCode.INSIDE_MINIMUM_NOTICE
    assert refused.value.extra == {"notice_ends_at": (NOW + NOTICE).isoformat()}
    for notice in (timedelta(0), None):
        request = _request(SessionAction.REQUEST_CANCELLATION).model_copy(update={"minimum_notice": notice})
        assert plan(request, row, None, "UTC").event_type == LearningEventType.CANCELLATION_REQUESTED


def test_a_reschedule_to_the_past_is_refused_whatever_the_state() -> None:
    request = _request(SessionAction.RESCHEDULE).model_copy(update={"new_scheduled_at": NOW})
    with pytest.raises(DomainError) as refused:
        plan(request, _row(SessionStatus.SCHEDULED, False, False), None, "UTC")
    assert refused.value.code == ErrorCode.TIME_IN_PAST


def test_missed_without_notify_sends_nothing() -> None:
    request = _request(SessionAction.MARK_MISSED).model_copy(update={"notify_parent": False})
    change = plan(request, _row(SessionStatus.PENDING, False, True), None, "UTC")
    assert change.messages == ()
    assert change.event_data["parent_notified"] is False


def test_a_request_opens_a_consent_window_and_names_its_workflow() -> None:
    row = _row(SessionStatus.SCHEDULED, False, False)
    change = plan(_request(SessionAction.REQUEST_CANCELLATION), row, None, "UTC")
    assert change.columns["cancellation_status"] == CancellationStatus.PENDING
    assert change.columns["cancellation_expires_at"] == NOW + timedelta(hours=48)
    assert change.columns["consent_workflow_id"] == f"consent-{row['id']}-1"


# The session view's buttons: each flag is the rule book's verdict for that action, role and state.
_BUTTONS = {
    "complete": SessionAction.COMPLETE,
    "mark_missed": SessionAction.MARK_MISSED,
    "reschedule": SessionAction.RESCHEDULE,
    "request_cancel": SessionAction.REQUEST_CANCELLATION,
    "withdraw_cancel": SessionAction.WITHDRAW_CANCELLATION,
    "cancel": SessionAction.CANCEL,
}
STATES = list(itertools.product(SessionStatus, [False, True], [False, True], WHENS, ["coach", "admin"]))


@pytest.mark.parametrize(("status", "consent", "locked", "when", "role"), STATES)
def test_each_button_flag_is_the_rule_books_verdict(
    status: SessionStatus, consent: bool, locked: bool, when: When, role: str
) -> None:
    row = _row(status, consent, when)
    now = datetime.now(UTC)
    record = SessionRecord.model_validate(
        row
        | {
            "scheduled_at": now + (row["scheduled_at"] - NOW),
            "child_id": uuid4(),
            "coach_id": uuid4(),
            "enrollment_id": uuid4(),
            "duration_minutes": 45,
            "google_event_id": None,
            "meet_link": None,
            "calendar_sync_status": "synced",
            "calendar_sync_error": None,
            "cancellation_requested_at": None,
            "cancellation_expires_at": None,
            "completed_at": None,
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "blocking_session_number": 2 if locked else None,
        }
    )
    view = SessionView.of(record, now, NOTICE, role=role).model_dump()
    for name, action in _BUTTONS.items():
        want = expected(action, status, consent, locked, when, role)
        if action is SessionAction.WITHDRAW_CANCELLATION and not isinstance(want, str) and status not in OPEN:
            want = ErrorCode.INVALID_STATUS  # the API refuses a finished session before the workflow
        refusal = view["unavailable_reasons"][name]
        assert view[f"can_{name}"] is (not isinstance(want, str)), (name, want, refusal)
        assert (refusal["code"] if refusal else None) == (want if isinstance(want, str) else None), name
        assert (refusal is None) or refusal["detail"]
