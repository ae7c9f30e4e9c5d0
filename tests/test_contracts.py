"""The typed path from an update to its transition: every field an action's update carries arrives."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from api.services.idempotency import KeyedRequest
from coach_sessions.contracts import (
    Actor,
    CancelInput,
    CompleteInput,
    ConsentDecision,
    MarkMissedInput,
    RequestCancellationInput,
    RescheduleInput,
    SessionAction,
    TransitionRequest,
)
from coach_sessions.statuses import DecidedBy

NOW = datetime(2026, 12, 3, 10, tzinfo=UTC)
COACH = Actor(id=uuid4(), role="coach")
STAMP: dict[str, Any] = {"deadline": NOW + timedelta(seconds=5), "request_id": "idem-1"}
UPDATES: list[tuple[Any, SessionAction]] = [
    (CompleteInput(actor=COACH, notes="read two books", parent_message="well done", **STAMP), SessionAction.COMPLETE),
    (
        MarkMissedInput(actor=COACH, notes="no show", notify_parent=True, parent_message="see you", **STAMP),
        SessionAction.MARK_MISSED,
    ),
    (
        RescheduleInput(
            actor=COACH,
            new_scheduled_at=NOW + timedelta(days=2),
            reason="school trip",
            minimum_notice=timedelta(hours=24),
            **STAMP,
        ),
        SessionAction.RESCHEDULE,
    ),
    (CancelInput(actor=COACH, reason="holiday", **STAMP), SessionAction.CANCEL),
    (
        RequestCancellationInput(
            actor=COACH, reason="ill", auto_approve_after=timedelta(hours=48), minimum_notice=timedelta(1), **STAMP
        ),
        SessionAction.REQUEST_CANCELLATION,
    ),
]


@pytest.mark.parametrize(("update", "action"), UPDATES, ids=[a.value for _, a in UPDATES])
def test_every_field_of_an_update_reaches_its_transition(update: Any, action: SessionAction) -> None:
    session_id = uuid4()
    request = TransitionRequest.of(update, session_id, "req-7", NOW)
    assert (request.action, request.session_id, request.request_id, request.now) == (action, session_id, "req-7", NOW)
    carried = request.model_dump()
    for name, value in update.model_dump(exclude={"request_id", "auto_approve_after"}).items():
        assert carried[name] == value, name
    if isinstance(update, RequestCancellationInput):
        assert request.consent_window == update.auto_approve_after


def test_an_update_field_without_a_place_in_the_transition_is_refused() -> None:
    fields = TransitionRequest.of(CompleteInput(actor=COACH), uuid4(), "req", NOW).model_dump()
    with pytest.raises(ValidationError, match="mood"):
        TransitionRequest.model_validate(fields | {"mood": "happy"})


def test_a_consent_decision_becomes_its_transition_with_or_without_its_token() -> None:
    decision = ConsentDecision(outcome="reject", decided_by=DecidedBy.PARENT, actor=COACH, token="wamid.1")
    with_token = TransitionRequest.of_decision(decision, uuid4(), "consent:x", NOW, with_token=True)
    without = TransitionRequest.of_decision(decision, uuid4(), "consent:x", NOW, with_token=False)
    assert with_token.action is SessionAction.REJECT_CANCELLATION and with_token.decided_by == "parent"
    assert (with_token.decision_token, without.decision_token) == ("wamid.1", None)


def test_the_fingerprint_ignores_what_changes_between_attempts_and_nothing_else() -> None:
    session_id, principal = uuid4(), uuid4()
    first = CompleteInput(actor=COACH, notes="a", deadline=NOW, request_id="idem-1")
    retry = CompleteInput(actor=COACH, notes="a", deadline=NOW + timedelta(minutes=1), request_id="idem-1")
    other = CompleteInput(actor=COACH, notes="b", deadline=NOW, request_id="idem-1")

    def fingerprint(update: Any, session: Any = session_id) -> str:
        return KeyedRequest.of(principal, "k", session, update).fingerprint

    assert fingerprint(first) == fingerprint(retry)
    assert fingerprint(first) != fingerprint(other)
    assert fingerprint(first) != fingerprint(first, uuid4())
    assert fingerprint(first) != fingerprint(CancelInput(actor=COACH, reason="a", deadline=NOW))


def test_a_key_used_before_parent_message_existed_keeps_its_fingerprint() -> None:
    """A keyed retry sent across the deploy that added ``parent_message`` is the same request."""
    update = CompleteInput(actor=COACH, notes="a", deadline=NOW, request_id="idem-1")
    session_id, principal = uuid4(), uuid4()
    document = {"action": "CompleteInput", "session_id": str(session_id)} | update.model_dump(
        mode="json", exclude={"deadline", "request_id", "parent_message"}
    )
    before = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    assert KeyedRequest.of(principal, "k", session_id, update).fingerprint == before
    with_message = update.model_copy(update={"parent_message": "hi"})
    assert KeyedRequest.of(principal, "k", session_id, with_message).fingerprint != before
