"""The inputs and result of a session transition: the one shape the workflow, activity and repository share."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel

from coach_sessions.models import SessionRecord


class SessionAction(StrEnum):
    COMPLETE = "complete"
    MARK_MISSED = "mark_missed"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"


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


class TransitionResult(BaseModel):
    session: SessionRecord
    message_ids: list[UUID] = []
    calendar_sync_needed: bool = False
