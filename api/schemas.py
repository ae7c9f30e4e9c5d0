"""Request bodies (the product note's camelCase names) and response envelopes."""

import re
from datetime import date, time
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from coach_sessions.models import Child, Coach, Enrollment, Parent, SessionView
from coach_sessions.settings import DEFAULT_TIMEZONE

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


def _e164(value: str) -> str:
    cleaned = re.sub(r"[\s\-()]", "", value)
    if not E164.match(cleaned):
        raise ValueError("must be an E.164 phone number such as +919876543210")
    return cleaned


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError("must be an IANA timezone such as Asia/Kolkata") from error
    return value


Phone = Annotated[str, AfterValidator(_e164)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CreateCoach(Body):
    name: Name
    email: Email
    phone: Phone | None = None
    calendar_id: str | None = Field(default=None, alias="calendarId", max_length=320)
    timezone: Annotated[str, AfterValidator(_timezone)] = DEFAULT_TIMEZONE


class CreateParent(Body):
    name: Name
    phone: Phone
    email: Email | None = None
    # Reminders show the session time in it; without one, in the coach's timezone.
    timezone: Annotated[str, AfterValidator(_timezone)] | None = None


class CreateChild(Body):
    name: Name
    age: int = Field(ge=2, le=18)
    parent_id: UUID = Field(alias="parentId")
    coach_id: UUID = Field(alias="coachId")


class CreateEnrollment(Body):
    child_id: UUID = Field(alias="childId")
    coach_id: UUID = Field(alias="coachId")
    start_date: date = Field(alias="startDate")
    session_time: time = Field(alias="sessionTime")
    weekdays: list[Weekday] = Field(min_length=1, max_length=7)
    session_count: int = Field(alias="sessionCount", ge=1, le=52)
    duration_minutes: int = Field(default=45, alias="durationMinutes", ge=15, le=180)


class CompleteSession(Body):
    session_id: UUID = Field(alias="sessionId")
    notes: Notes | None = None


class MarkMissed(Body):
    session_id: UUID = Field(alias="sessionId")
    notify_parent: bool = Field(default=False, alias="notifyParent")
    notes: Notes | None = None


class RescheduleSession(Body):
    session_id: UUID = Field(alias="sessionId")
    new_date: date = Field(alias="newDate")
    new_time: time = Field(alias="newTime")
    reason: Reason | None = None


class RequestCancellation(Body):
    session_id: UUID = Field(alias="sessionId")
    reason: Reason


class WithdrawCancellation(Body):
    session_id: UUID = Field(alias="sessionId")


class DecideCancellation(Body):
    session_id: UUID = Field(alias="sessionId")
    decision: Literal["approve", "reject"]


# Printable text only: PostgreSQL text cannot hold NUL, and control characters have no place in a title.
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Kind = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class CreateAssessment(Body):
    child_id: UUID = Field(alias="childId")
    session_id: UUID | None = Field(default=None, alias="sessionId")
    kind: Kind = "reading"
    score: float = Field(ge=0, le=100, allow_inf_nan=False)
    assessed_at: AwareDatetime | None = Field(default=None, alias="assessedAt")


class CreateHomework(Body):
    child_id: UUID = Field(alias="childId")
    session_id: UUID | None = Field(default=None, alias="sessionId")
    title: Title
    due_date: date | None = Field(default=None, alias="dueDate")


class WebhookAnswer(BaseModel):
    status: str
    results: list[dict[str, str]]


class SessionEnvelope(BaseModel):
    session: SessionView


class SessionList(BaseModel):
    sessions: list[SessionView]


class CoachList(BaseModel):
    coaches: list[Coach]


class ChildList(BaseModel):
    children: list[Child]


class EnrollmentCreated(BaseModel):
    enrollment: Enrollment
    sessions: list[SessionView]


__all__ = ["Child", "Coach", "Parent"]


class ErrorBody(BaseModel):
    """Every refusal: a stable machine code and a sentence for people (api/errors.py)."""

    error: str
    detail: str


_ERROR_TEXT = {
    401: "Missing, expired or invalid bearer token",
    404: "No such record, or it is not this coach's (the same answer either way)",
    409: "Refused by a session rule (locked, not started, pending consent...)",
    422: "Invalid input (`detail` names the field)",
    503: "Postgres or Temporal unavailable; try again",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses=`` for the statuses a route can answer besides its success."""
    return {s: {"model": ErrorBody, "description": _ERROR_TEXT[s]} for s in statuses}
