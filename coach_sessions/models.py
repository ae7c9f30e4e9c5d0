"""Rows as the API returns them (snake_case column names) and the domain values they carry."""

from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from coach_sessions import rules
from coach_sessions.statuses import TERMINAL_STATUSES, CalendarSyncStatus, CancellationStatus, SessionStatus


class Row(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Coach(Row):
    id: UUID
    name: str
    email: str
    phone: str | None
    calendar_id: str | None
    timezone: str
    created_at: datetime
    deactivated_at: datetime | None = None  # no new enrolments (migration 0018)


class Parent(Row):
    id: UUID
    name: str
    phone: str
    email: str | None
    timezone: str | None = None  # reminders use the coach's when None
    created_at: datetime
    deactivated_at: datetime | None = None  # no messages (migration 0018)


class Child(Row):
    id: UUID
    name: str
    age: int
    parent_id: UUID
    coach_id: UUID
    created_at: datetime
    erased: bool = Field(default=False, exclude=True)  # an erasure was asked for (child_erasures)


class EnrollmentPlan(BaseModel):
    """What an enrollment is asked for: the child, the coach and the timetable of its sessions.

    Two requests with equal plans are the same enrollment (posting it again answers the first).
    """

    child_id: UUID
    coach_id: UUID
    start_date: date
    session_time: time  # wall clock in the coach's timezone
    weekdays: list[str]  # mon … sun
    session_count: int
    duration_minutes: int

    @classmethod
    def of(cls, enrollment: "Enrollment") -> "EnrollmentPlan":
        return cls.model_validate(enrollment, from_attributes=True)


class Enrollment(Row):
    id: UUID
    child_id: UUID
    coach_id: UUID
    start_date: date
    session_time: time
    weekdays: list[str]
    session_count: int
    duration_minutes: int
    timezone: str
    status: str = "active"  # ended once every session is completed, missed or cancelled
    created_at: datetime
    ended_at: datetime | None = None  # ended early by an admin (migration 0019)
    end_reason: str | None = None


class SessionRecord(Row):
    """One ``scheduled_sessions`` row plus the number of the earliest unresolved session before it."""

    id: UUID
    child_id: UUID
    coach_id: UUID
    enrollment_id: UUID
    session_number: int
    scheduled_at: datetime
    duration_minutes: int
    status: SessionStatus
    google_event_id: str | None
    meet_link: str | None
    calendar_sync_status: CalendarSyncStatus
    calendar_sync_error: str | None
    coach_notes: str | None
    cancellation_status: CancellationStatus
    cancellation_requested_at: datetime | None
    cancellation_reason: str | None
    cancellation_expires_at: datetime | None
    cancellation_decided_by: str | None = None
    cancellation_decided_at: datetime | None = None
    cancellation_request_count: int = 0
    consent_workflow_id: str | None = None
    cancellation_message_id: UUID | None = None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    blocking_session_number: int | None = None

    @property
    def ends_at(self) -> datetime:
        return self.scheduled_at + timedelta(minutes=self.duration_minutes)


class Refusal(BaseModel):
    """Why an action would be refused now: the error code and sentence the API would answer with."""

    code: str
    detail: str


class UnavailableActions(BaseModel):
    """For each action whose ``can_*`` flag is false, the refusal the API would answer; null when it
    would accept it."""

    complete: Refusal | None = None
    mark_missed: Refusal | None = None
    reschedule: Refusal | None = None
    request_cancel: Refusal | None = None
    withdraw_cancel: Refusal | None = None
    cancel: Refusal | None = None


class SessionView(SessionRecord):
    """What the API answers: the row plus what a coach's page needs to draw its buttons.

    Each ``can_*`` is ``coach_sessions.rules.refusal(...) is None`` for the principal who asked, now:
    the same rule the transitions raise, so a flag is true exactly when the action would be accepted
    from the session's state (what the caller then sends, e.g. a new time in the past, is checked on
    its own). ``unavailable_reasons`` says why for each false one."""

    is_locked: bool
    lock_reason: str | None
    # Defaults: answers kept for an Idempotency-Key before these fields existed still parse.
    can_complete: bool = False
    can_mark_missed: bool = False
    can_reschedule: bool = False
    can_request_cancel: bool = False
    can_withdraw_cancel: bool = False
    can_cancel: bool = False
    unavailable_reasons: UnavailableActions = UnavailableActions()

    @classmethod
    def of(cls, record: SessionRecord, now: datetime, minimum_notice: timedelta | None, *, role: str) -> "SessionView":
        facts = rules.SessionFacts(
            record.session_number,
            record.status,
            record.cancellation_status,
            record.scheduled_at,
            record.blocking_session_number,
        )
        refusals = {
            button.value: rules.refusal(button, facts, role=role, now=now, minimum_notice=minimum_notice)
            for button in rules.Button
        }
        # A finished session (completed, missed, cancelled: an admin may cancel one behind an open
        # session) is never locked: no action is left to hold back.
        locked = record.blocking_session_number is not None and record.status not in TERMINAL_STATUSES
        flags: dict[str, Any] = {f"can_{name}": error is None for name, error in refusals.items()}
        reasons: dict[str, Any] = {
            name: Refusal.model_construct(code=error.code, detail=error.detail) if error else None
            for name, error in refusals.items()
        }
        # The record is validated already: construct, rather than validate its 25 fields again
        # (a 12-session list did that 12 times per read).
        return cls.model_construct(
            **record.model_dump(),
            is_locked=locked,
            lock_reason=rules.lock_reason(record.blocking_session_number) if locked else None,
            **flags,
            unavailable_reasons=UnavailableActions.model_construct(**reasons),
        )


class Assessment(Row):
    id: UUID
    child_id: UUID
    session_id: UUID | None
    assessed_at: datetime
    kind: str
    score: float
    created_at: datetime


class Homework(Row):
    id: UUID
    child_id: UUID
    session_id: UUID | None
    title: str
    assigned_at: datetime
    due_date: date | None
    completed_at: datetime | None
    created_at: datetime


class ChildErasure(Row):
    """A child's erasure (table ``child_erasures``): under way until ``completed_at``."""

    child_id: UUID
    requested_by: UUID
    requested_at: datetime
    completed_at: datetime | None
