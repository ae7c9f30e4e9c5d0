"""Request bodies (the product note's camelCase names) and response envelopes."""

import json
import re
from datetime import date, time
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from coach_sessions.models import Child, Coach, Enrollment, Parent, SessionView
from coach_sessions.settings import DEFAULT_TIMEZONE
from coach_sessions.statuses import LearningEventType

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


class WebhookAnswer(BaseModel):
    status: str
    results: list[dict[str, str]]


class SessionEnvelope(BaseModel):
    session: SessionView


class SessionList(BaseModel):
    sessions: list[SessionView]


class ChildList(BaseModel):
    children: list[Child]


class EnrollmentCreated(BaseModel):
    enrollment: Enrollment
    sessions: list[SessionView]


__all__ = ["Child", "Coach", "Parent"]


# ----- pre-session brief and learning events ----------------------------------------------------------


def _no_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold NUL: refuse it as a 422 rather than fail on insert."""
    if "\x00" in json.dumps(value, ensure_ascii=False) or "\\u0000" in json.dumps(value):
        raise ValueError("must not contain NUL characters")
    return value


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > 8_000:
        raise ValueError("must be at most 8,000 characters as JSON")
    return value


class CreateLearningEvent(Body):
    child_id: UUID = Field(alias="childId")
    session_id: UUID | None = Field(default=None, alias="sessionId")
    event_type: LearningEventType = Field(alias="eventType")
    event_data: Annotated[dict[str, Any], AfterValidator(_small_json), AfterValidator(_no_nul)] = Field(
        default_factory=dict, alias="eventData"
    )
    # The text the brief's search reads (full text at once, by vector within seconds).
    content: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), AfterValidator(_no_nul)
    ]


class ErrorBody(BaseModel):
    """Every error answer: a stable machine code, a readable detail, and context fields for some codes."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(examples=["not_found"])
    detail: str


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "Missing, expired or invalid bearer token (`unauthorized`).",
        404: "No such resource, or not yours (`not_found` / `session_not_found`): the same answer for both.",
        422: "A parameter or body field is invalid (`validation_error`, with `fields`).",
        503: "A backing service is unavailable (`service_unavailable`, `brief_unavailable`).",
    }
    return {s: {"model": ErrorBody, "description": descriptions[s]} for s in statuses}
