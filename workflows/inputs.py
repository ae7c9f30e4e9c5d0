"""Inputs and outputs of workflows, updates and activities: one pydantic model each."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from coach_sessions.actions import Actor


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
