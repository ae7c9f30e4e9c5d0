"""Inputs and outputs of workflows, updates and activities: one pydantic model each."""

from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from coach_sessions.actions import Actor
from coach_sessions.statuses import ConsentChoice, DecidedBy


class SessionWorkflowInput(BaseModel):
    session_id: UUID


class SessionWorkflowResult(BaseModel):
    session_id: UUID
    final_status: str


class EnrollmentWorkflowInput(BaseModel):
    enrollment_id: UUID


class EnrollmentWorkflowResult(BaseModel):
    enrollment_id: UUID
    session_ids: list[UUID]


# ----- activity inputs ------------------------------------------------------------------------


class LoadSessionInput(BaseModel):
    session_id: UUID


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


# ----- update inputs --------------------------------------------------------------------------


class CompleteInput(BaseModel):
    actor: Actor
    notes: str | None = None


class MarkMissedInput(BaseModel):
    actor: Actor
    notify_parent: bool = False
    notes: str | None = None


class RescheduleInput(BaseModel):
    actor: Actor
    new_scheduled_at: datetime
    reason: str | None = None


class CancelInput(BaseModel):
    actor: Actor
    reason: str


class RequestCancellationInput(BaseModel):
    actor: Actor
    reason: str
    # From the API's CANCELLATION_AUTO_APPROVE_AFTER: the expiry stored and the timer are one value.
    auto_approve_after: timedelta


class WithdrawCancellationInput(BaseModel):
    actor: Actor


class DecideCancellationInput(BaseModel):
    actor: Actor
    decision: Literal["approve", "reject"]


# ----- cancellation consent (child workflow) ------------------------------------------------------

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


class OutboxDeliveryInput(BaseModel):
    message_ids: list[UUID]
