"""The messages the API, the workflows and the activities exchange: one pydantic model each.

This module sits below all three layers (api → workflows → activities → coach_sessions), so every
layer imports its contracts downward. The models travel in Temporal history as JSON (the pydantic
data converter): a new field must have a default, or running workflows can no longer replay.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from coach_sessions.models import SessionRecord
from coach_sessions.statuses import ConsentChoice, DecidedBy


class Actor(BaseModel):
    id: UUID | None  # None for the system (timers)
    role: str  # coach | admin | parent | system


# ----- workflows ----------------------------------------------------------------------------------


class SessionTimerSettings(BaseModel):
    """The timers a session holds besides its end (docs/domain.md, "Timers and nudges"): fixed for a
    workflow run, so a replay computes the same timers."""

    reminders: list[timedelta] = []  # before the start: a WhatsApp reminder to the parent
    nudge_after: timedelta = timedelta(hours=12)  # after the end of a session left pending
    nudge_repeat: timedelta = timedelta(days=1)
    nudge_max: int = 0  # 0: no nudges
    # Continue-as-new once the history has this many events (None: when Temporal suggests it).
    continue_as_new_after_events: int | None = None


class SessionWorkflowInput(BaseModel):
    session_id: UUID
    # New fields (histories from before the timers have none). None: the worker's settings, read by
    # an activity at start; a continue-as-new passes them on, with the reminders/nudges already done.
    timers: SessionTimerSettings | None = None
    done_timers: list[str] = []


class SessionWorkflowResult(BaseModel):
    session_id: UUID
    final_status: str


class EnrollmentWorkflowInput(BaseModel):
    enrollment_id: UUID


class EnrollmentWorkflowResult(BaseModel):
    enrollment_id: UUID
    session_ids: list[UUID]


class OutboxDeliveryInput(BaseModel):
    message_ids: list[UUID]


# ----- session updates (one per action a coach or admin takes) -------------------------------------

# ACTION_DEADLINE_NOTE: every update carries the moment its caller stops waiting (the API's answer
# bound). An action that reaches the database after it is refused, so a caller that got 503 never
# finds its action applied later. None (histories from before the deadline) means no deadline.
# ``request_id`` (from an Idempotency-Key) names the action across retries: each retry is a new update
# (Temporal would answer a repeated update id with the first attempt's refusal), but its transition is
# keyed by this id, so it finds an earlier commit instead of applying twice. None: the update's own id.


# PARENT_MESSAGE_NOTE: ``notes`` are the coach's private record; ``parent_message`` is what the parent is
# sent (None: the template's fixed text). Added later with a default, so older histories replay; no
# workflow code branches on it (the transition's activity reads it), so it needs no patch.


class CompleteInput(BaseModel):
    actor: Actor
    notes: str | None = None
    parent_message: str | None = None  # see PARENT_MESSAGE_NOTE
    deadline: datetime | None = None  # see ACTION_DEADLINE_NOTE
    request_id: str | None = None  # see ACTION_DEADLINE_NOTE


class MarkMissedInput(BaseModel):
    actor: Actor
    notify_parent: bool = False
    notes: str | None = None
    parent_message: str | None = None  # see PARENT_MESSAGE_NOTE
    deadline: datetime | None = None  # see ACTION_DEADLINE_NOTE
    request_id: str | None = None  # see ACTION_DEADLINE_NOTE


class RescheduleInput(BaseModel):
    actor: Actor
    new_scheduled_at: datetime
    reason: str | None = None
    minimum_notice: timedelta | None = None  # COACH_MIN_NOTICE (binds coaches only; None: no notice)
    deadline: datetime | None = None  # see ACTION_DEADLINE_NOTE
    request_id: str | None = None  # see ACTION_DEADLINE_NOTE


class CancelInput(BaseModel):
    actor: Actor
    reason: str
    deadline: datetime | None = None  # see ACTION_DEADLINE_NOTE
    request_id: str | None = None  # see ACTION_DEADLINE_NOTE


class RequestCancellationInput(BaseModel):
    actor: Actor
    reason: str
    # From the API's CANCELLATION_AUTO_APPROVE_AFTER: the expiry stored and the timer are one value.
    auto_approve_after: timedelta
    deadline: datetime | None = None  # see ACTION_DEADLINE_NOTE
    minimum_notice: timedelta | None = None  # COACH_MIN_NOTICE (binds coaches only; None: no notice)
    request_id: str | None = None  # see ACTION_DEADLINE_NOTE


class WithdrawCancellationInput(BaseModel):
    actor: Actor
    deadline: datetime | None = None  # see ACTION_DEADLINE_NOTE
    request_id: str | None = None  # see ACTION_DEADLINE_NOTE


class DecideCancellationInput(BaseModel):
    actor: Actor
    decision: Literal["approve", "reject"]
    deadline: datetime | None = None  # see ACTION_DEADLINE_NOTE
    request_id: str | None = None  # see ACTION_DEADLINE_NOTE


# ----- cancellation consent (child workflow) --------------------------------------------------------

ConsentOutcome = Literal["approve", "reject", "withdraw"]


class ConsentInput(BaseModel):
    session_id: UUID
    request_message_ids: list[UUID]
    expires_at: datetime


class ParentReply(BaseModel):
    """A parent's quick-reply tap, as the webhook matched it."""

    choice: ConsentChoice
    inbound_message_id: str


class ConsentDecision(BaseModel):
    outcome: ConsentOutcome
    decided_by: DecidedBy
    actor: Actor
    # Who asked for this decision (an update id, an inbound message id, "timer"): the caller
    # learns whether its own decision won.
    token: str


# ----- activities ---------------------------------------------------------------------------------


class LoadSessionInput(BaseModel):
    session_id: UUID


class SessionCatchUp(BaseModel):
    """The row as it is now, and the messages still queued for the session: what a workflow that
    missed an update (its transaction committed, its history event was lost) must catch up on."""

    session: SessionRecord
    queued_message_ids: list[UUID] = []


class MarkPendingInput(BaseModel):
    session_id: UUID
    now: datetime


class CreateSessionsInput(BaseModel):
    enrollment_id: UUID
    now: datetime


class SyncCalendarInput(BaseModel):
    session_id: UUID


class RecordCalendarFailureInput(BaseModel):
    session_id: UUID
    error: str


class DeliverMessageInput(BaseModel):
    message_id: UUID


class CheckDeadlineInput(BaseModel):
    deadline: datetime


class TimerMessageInput(BaseModel):
    """Queue one reminder (to the parent) or nudge (to the coach) for the session's time ``scheduled_at``."""

    session_id: UUID
    kind: Literal["reminder", "nudge"]
    key: str  # the outbox idempotency key: once per session, timer and scheduled time
    scheduled_at: datetime
    nudge_number: int = 0


class LoadTimerSettingsInput(BaseModel):
    pass


# ----- one session transition: what the workflow asks, what the repository writes ---------------------


class SessionAction(StrEnum):
    COMPLETE = "complete"
    MARK_MISSED = "mark_missed"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    REQUEST_CANCELLATION = "request_cancellation"
    APPROVE_CANCELLATION = "approve_cancellation"
    REJECT_CANCELLATION = "reject_cancellation"
    WITHDRAW_CANCELLATION = "withdraw_cancellation"
    PARENT_CALLBACK = "parent_callback"


# The session actions a coach or admin starts with an update (a consent decision is the other way in).
ActionInput = CompleteInput | MarkMissedInput | RescheduleInput | CancelInput | RequestCancellationInput


class TransitionRequest(BaseModel):
    """One transition, built from the update that asked for it (``of``) or from a consent decision."""

    # A field an update carries that has no place here is a mistake, not something to drop.
    model_config = ConfigDict(extra="forbid")

    session_id: UUID
    action: SessionAction
    # Stable per user request (the Temporal update id): a retried activity finds its own earlier commit.
    request_id: str
    actor: Actor
    now: datetime
    notes: str | None = None  # private: the learning record and coach_notes, never a message
    parent_message: str | None = None  # what the parent is sent (see PARENT_MESSAGE_NOTE)
    notify_parent: bool = False
    new_scheduled_at: datetime | None = None
    reason: str | None = None
    # Cancellation consent: how long the parent has before it auto-approves, and who decided it.
    consent_window: timedelta | None = None
    decided_by: str | None = None
    # The caller's deadline (see ACTION_DEADLINE_NOTE); a replay of a committed request ignores it.
    deadline: datetime | None = None
    # A consent decision: the update id (or inbound message id) of whoever decided it, so that a
    # retried withdraw/decide with the same Idempotency-Key can find its own decision.
    decision_token: str | None = None
    # COACH_MIN_NOTICE: a coach's reschedule or cancellation request for a session starting sooner is refused.
    minimum_notice: timedelta | None = None

    @classmethod
    def of(cls, update: ActionInput, session_id: UUID, request_id: str, now: datetime) -> Self:
        """The transition an action's update asks for: the update's own fields, under the same names
        (the consent window is the update's ``auto_approve_after``)."""
        fields = update.model_dump(exclude={"request_id", "auto_approve_after"})
        if isinstance(update, RequestCancellationInput):
            fields["consent_window"] = update.auto_approve_after
        return cls(session_id=session_id, action=_ACTION_OF[type(update)], request_id=request_id, now=now, **fields)

    @classmethod
    def of_decision(
        cls, decision: ConsentDecision, session_id: UUID, request_id: str, now: datetime, *, with_token: bool
    ) -> Self:
        """The transition that applies a consent decision (``with_token``: record who decided it)."""
        return cls(
            session_id=session_id,
            action=_DECISION_ACTIONS[decision.outcome],
            request_id=request_id,
            actor=decision.actor,
            now=now,
            decided_by=decision.decided_by.value,
            decision_token=decision.token if with_token else None,
        )


_ACTION_OF: dict[type[BaseModel], SessionAction] = {
    CompleteInput: SessionAction.COMPLETE,
    MarkMissedInput: SessionAction.MARK_MISSED,
    RescheduleInput: SessionAction.RESCHEDULE,
    CancelInput: SessionAction.CANCEL,
    RequestCancellationInput: SessionAction.REQUEST_CANCELLATION,
}
_DECISION_ACTIONS: dict[ConsentOutcome, SessionAction] = {
    "approve": SessionAction.APPROVE_CANCELLATION,
    "reject": SessionAction.REJECT_CANCELLATION,
    "withdraw": SessionAction.WITHDRAW_CANCELLATION,
}


class TransitionResult(BaseModel):
    session: SessionRecord
    message_ids: list[UUID] = []
    calendar_sync_needed: bool = False


# ----- pre-session brief ----------------------------------------------------------------------------


class BriefItem(BaseModel):
    """One tip of the brief and the learning events it rests on (ids from the brief's sources)."""

    text: str
    event_ids: list[UUID] = []


class BriefContent(BaseModel):
    challenges: list[BriefItem] = []
    motivators: list[BriefItem] = []
    recommended_activities: list[BriefItem] = []
    session_focus: BriefItem = BriefItem(text="")


class BriefSource(BaseModel):
    id: UUID
    event_type: str
    event_date: datetime
    text: str


class SessionBrief(BriefContent):
    session_id: UUID
    sources: list[BriefSource] = []
    generated_at: datetime | None = None
    model: str = ""
    stale: bool = False


class GenerateBriefInput(BaseModel):
    session_id: UUID
    # A stored brief still fresh (no newer event) is returned as is: a request that waited while another
    # generated it, or the timer firing after a coach already opened the page, costs no model call.
    reuse_fresh: bool = True


class EmbedEventsInput(BaseModel):
    child_id: UUID | None = None


class EmbedEventsResult(BaseModel):
    embedded: int = 0
    remaining: bool = False


class BriefWorkflowInput(BaseModel):
    session_id: UUID


class RetentionInput(BaseModel):
    """The personal-data retention workflow's settings (PERSONAL_DATA_RETENTION, RETENTION_PURGE_EVERY)."""

    keep_for: timedelta
    every: timedelta


class RetentionPurged(BaseModel):
    """Rows purged by one pass (counts only: the purge's history holds no personal data)."""

    inbound_bodies: int = 0
    message_parameters: int = 0
    sign_in_rows: int = 0


# ----- erasure (docs/security.md, "Erasure") -------------------------------------------------------


class EraseChildInput(BaseModel):
    """The ChildErasureWorkflow's input: ids only (its history holds no personal data)."""

    child_id: UUID
    requested_by: UUID


class ErasureStepInput(BaseModel):
    child_id: UUID


class ErasureStepResult(BaseModel):
    """Counts only, for ops: workflows ended, calendar events removed (or refused), rows scrubbed."""

    done: int = 0
    refused: int = 0


class ReassignmentInput(BaseModel):
    """The ReassignmentWorkflow's input and each of its steps': an id only (no personal data in history)."""

    reassignment_id: UUID


class ReassignmentStepResult(BaseModel):
    """Counts only, for ops: events removed (or refused by the calendar), sessions told to sync."""

    done: int = 0
    refused: int = 0
