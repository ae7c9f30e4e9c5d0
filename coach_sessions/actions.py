"""A session transition's input and result: the one shape workflow, activity and repository share."""

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel

from coach_sessions.models import SessionRecord


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


class Actor(BaseModel):
    id: UUID | None  # None for the system (timers)
    role: str  # coach | admin | parent | system


class TransitionRequest(BaseModel):
    session_id: UUID
    action: SessionAction
    # Stable per user request (the Temporal update id): a retried activity finds its own earlier commit.
    request_id: str
    actor: Actor
    now: datetime
    notes: str | None = None
    notify_parent: bool = False
    new_scheduled_at: datetime | None = None
    reason: str | None = None
    # Cancellation consent: how long the parent has before it auto-approves, and who decided it.
    consent_window: timedelta | None = None
    decided_by: str | None = None


class TransitionResult(BaseModel):
    session: SessionRecord
    message_ids: list[UUID] = []
    calendar_sync_needed: bool = False
