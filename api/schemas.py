"""Request bodies (the product note's camelCase names) and response envelopes."""

import re
from datetime import date, time
from functools import cache
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from coach_sessions.models import Child, Coach, Enrollment, Parent, SessionView
from coach_sessions.settings import DEFAULT_TIMEZONE

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


def _e164(value: str) -> str:
    cleaned = re.sub(r"[\s\-()]", "", value)
    if not E164.match(cleaned):
        raise ValueError("must be an E.164 phone number such as +919876543210")
    return cleaned


@cache
def _iana_zones() -> frozenset[str]:
    # available_timezones() also lists files that are not zones a coach lives in: the host's
    # "localtime", tzdata's "Factory" placeholder and "posixrules"; "right/…" and "posix/…" load
    # with ZoneInfo() but are not listed at all.
    return frozenset(available_timezones()) - {"localtime", "Factory", "posixrules"}


def _timezone(value: str) -> str:
    if value not in _iana_zones():
        raise ValueError("must be an IANA timezone such as Asia/Kolkata")
    return value


# Every date the API accepts lies in this window (the README's "Hostile input" section states it):
# wide enough to import a running programme or plan years ahead, narrow enough that no conversion
# to UTC in any zone overflows and PostgreSQL never stores ±infinity.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)


def _in_window(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"must lie between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}")
    return value


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("must be a wall-clock time without an offset, such as 17:00 (read in the coach's timezone)")
    return value


Phone = Annotated[str, AfterValidator(_e164)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
Day = Annotated[date, AfterValidator(_in_window)]
WallClock = Annotated[time, AfterValidator(_wall_clock)]
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
    start_date: Day = Field(alias="startDate")
    session_time: WallClock = Field(alias="sessionTime")
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
    new_date: Day = Field(alias="newDate")
    new_time: WallClock = Field(alias="newTime")
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
