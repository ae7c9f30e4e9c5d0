"""Request bodies (the product note's camelCase names) and response envelopes."""

import json
import re
from collections.abc import Callable
from datetime import date, datetime, time
from functools import cache
from importlib import resources
from typing import Annotated, Any, ClassVar, Literal, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    AllowInfNan,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from api.parent_text import (
    CANCEL_REASON,
    NOTES,
    NOTIFY_PARENT,
    PARENT_MESSAGE,
    REQUEST_REASON,
    RESCHEDULE_REASON,
    ParentMessage,
)
from coach_sessions.models import Child, Coach, Enrollment, EnrollmentPlan, Parent, SessionView
from coach_sessions.settings import DEFAULT_TIMEZONE
from coach_sessions.statuses import AUTHORED_EVENT_TYPES, LearningEventType

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


def _e164(value: str) -> str:
    cleaned = re.sub(r"[\s\-()]", "", value)
    if not E164.match(cleaned):
        raise ValueError("must be an E.164 phone number such as +919876543210")
    return cleaned


@cache
def _iana_zones() -> frozenset[str]:
    # The tzdata package's list (a locked dependency), not the host's files: the API accepts the same
    # zones on every machine, and ZoneInfo reads them from that package where the host has none (a
    # slim image without tzdata-legacy). "Factory" is tzdata's placeholder, not a place.
    return frozenset((resources.files("tzdata") / "zones").read_text().split()) - {"Factory"}


def iana_zones() -> list[str]:
    """The timezones the API accepts, sorted."""
    return sorted(_iana_zones())


TIMEZONE_FORMAT = "iana-timezone"


def _timezone(value: str) -> str:
    if value not in _iana_zones():
        raise ValueError("must be an IANA timezone such as Asia/Kolkata")
    return value


# No enum in the document: ~600 names, some that generators fold onto one (Etc/GMT+0, Etc/GMT-0), and
# a list that belongs to a tzdata release, not to this API's contract. The pattern fits every name.
Timezone = Annotated[
    str,
    AfterValidator(_timezone),
    WithJsonSchema(
        {
            "type": "string",
            # A name of the list (generators read an unknown format as a plain string).
            "format": TIMEZONE_FORMAT,
            "pattern": r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$",
            "maxLength": 64,
            "description": "An IANA timezone name, such as Asia/Kolkata (tzdata's list).",
            "examples": ["Asia/Kolkata"],
        }
    ),
]


# Every date the API accepts lies in this window (docs/security.md states it):
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


# The JSON schema of each text type states what the validator accepts (spaces, dashes and brackets are
# dropped from phone numbers; names and reasons are stripped), so a client can check before sending.
_SEP = r"[\s()-]*"
Phone = Annotated[
    str,
    AfterValidator(_e164),
    WithJsonSchema({"type": "string", "pattern": rf"^{_SEP}\+{_SEP}[1-9]({_SEP}[0-9]){{7,14}}{_SEP}$"}),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"\S")]
# Printable ASCII without spaces around one "@" and a dot: stated exactly in the schema (a Unicode
# `\s` differs between the validator's regex engine and JSON Schema's, so none is used), no stripping.
Email = Annotated[str, StringConstraints(pattern=r"^[!-?A-~]+@[!-?A-~]+\.[!-?A-~]+$", max_length=320)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
# At least three characters once stripped: a non-space, anything, a non-space.
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500, pattern=r"\S[\s\S]*\S")]


def _iso_text(pattern: str) -> Callable[[object], object]:
    """Dates and times arrive as ISO text matching the pattern OpenAPI declares, and nothing else:
    pydantic would also read a Unix time, from a number or from a string of digits."""
    compiled = re.compile(pattern)

    def check(value: object) -> object:
        if not isinstance(value, str) or not compiled.match(value):
            raise ValueError("must be ISO 8601 text (YYYY-MM-DD, HH:MM or YYYY-MM-DDTHH:MM±HH:MM), not a Unix time")
        return value

    return check


DAY_PATTERN = r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
INSTANT_PATTERN = r"^20[0-9]{2}-"


def _json_number(value: object) -> object:
    # JSON Schema's integer includes 5.0 (kept: lax int takes it), but not "5" nor true.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number")
    return value


# What the schema says is what goes: no number from "5", no boolean from 1, no date from a number.
Count = Annotated[int, BeforeValidator(_json_number)]
Flag = Annotated[bool, Strict()]
Age = Annotated[int, Field(ge=2, le=18), BeforeValidator(_json_number)]  # a child's (the children CHECK)
Day = Annotated[
    date,
    BeforeValidator(_iso_text(DAY_PATTERN)),
    AfterValidator(_in_window),
    # 20YY is exactly the window 2000-01-01 … 2099-12-31.
    WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN}),
]
WallClock = Annotated[
    time,
    BeforeValidator(_iso_text(TIME_PATTERN)),
    AfterValidator(_wall_clock),
    WithJsonSchema({"type": "string", "pattern": TIME_PATTERN}),
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _instant_in_window(value: datetime) -> datetime:
    _in_window(value.date())
    return value


Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text(INSTANT_PATTERN)),
    AfterValidator(_instant_in_window),
    # With its offset, like 2026-03-02T17:00:00+05:30; its own date lies in the window.
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN}),
]


class Body(BaseModel):
    # allow_inf_nan: a non-finite number in any float field is a 422 naming it, never a 500 later.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class CreateCoach(Body):
    name: Name
    email: Email
    phone: Phone | None = None
    calendar_id: str | None = Field(default=None, alias="calendarId", max_length=320)
    timezone: Timezone = DEFAULT_TIMEZONE


class CreateParent(Body):
    name: Name
    phone: Phone
    email: Email | None = None
    # Reminders show the session time in it; without one, in the coach's timezone.
    timezone: Timezone | None = None


# An optional field that may not be sent as null: "absent" is its default, the schema shows no null.
NotNull = SkipJsonSchema[None]


class Edit(Body):
    """A PATCH body: only the fields sent change; those in ``required`` may not be sent as null."""

    required: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_nulls(self) -> Self:
        for name in sorted(self.required & self.model_fields_set):
            if getattr(self, name) is None:
                raise ValueError(f"{type(self).model_fields[name].alias or name} may not be null")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class EditCoach(Edit):
    """Only the fields sent change; ``phone`` and ``calendarId`` may be set to null."""

    required = frozenset({"name", "email", "timezone"})

    name: Name | NotNull = None
    email: Email | NotNull = None
    phone: Phone | None = None
    calendar_id: str | None = Field(default=None, alias="calendarId", max_length=320)
    timezone: Timezone | NotNull = None


class EditParent(Edit):
    """Only the fields sent change; ``email`` and ``timezone`` may be set to null. A message already
    queued keeps the number it was written with."""

    required = frozenset({"name", "phone"})

    name: Name | NotNull = None
    phone: Phone | NotNull = None
    email: Email | None = None
    timezone: Timezone | None = None


class EditChild(Edit):
    required = frozenset({"name", "age"})

    name: Name | NotNull = None
    age: Age | NotNull = None


class CreateChild(Body):
    name: Name
    age: Age
    parent_id: UUID = Field(alias="parentId")
    coach_id: UUID = Field(alias="coachId")


class CreateEnrollment(Body):
    child_id: UUID = Field(alias="childId")
    coach_id: UUID = Field(alias="coachId")
    start_date: Day = Field(alias="startDate")
    session_time: WallClock = Field(alias="sessionTime")
    weekdays: list[Weekday] = Field(min_length=1, max_length=7)
    session_count: Count = Field(alias="sessionCount", ge=1, le=52)
    duration_minutes: Count = Field(default=45, alias="durationMinutes", ge=15, le=180)

    def plan(self) -> EnrollmentPlan:
        """The plan this body asks for; a weekday named twice counts once."""
        return EnrollmentPlan.model_validate(self.model_dump() | {"weekdays": list(dict.fromkeys(self.weekdays))})


class CompleteSession(Body):
    session_id: UUID = Field(alias="sessionId")
    notes: Notes | None = Field(default=None, description=NOTES)
    parent_message: ParentMessage | None = Field(default=None, alias="parentMessage", description=PARENT_MESSAGE)


class MarkMissed(Body):
    session_id: UUID = Field(alias="sessionId")
    notify_parent: Flag | None = Field(default=None, alias="notifyParent", description=NOTIFY_PARENT)
    notes: Notes | None = Field(default=None, description=NOTES)
    parent_message: ParentMessage | None = Field(default=None, alias="parentMessage", description=PARENT_MESSAGE)


class RescheduleSession(Body):
    session_id: UUID = Field(alias="sessionId")
    new_date: Day = Field(alias="newDate")
    new_time: WallClock = Field(alias="newTime")
    reason: Reason | None = Field(default=None, description=RESCHEDULE_REASON)


class CancelSession(Body):
    """The admin's cancellation, as a body: its reason stays out of the URL that proxies log."""

    session_id: UUID = Field(alias="sessionId")
    reason: Reason = Field(description=CANCEL_REASON)


class RequestCancellation(Body):
    session_id: UUID = Field(alias="sessionId")
    reason: Reason = Field(description=REQUEST_REASON)


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
    score: Annotated[float, BeforeValidator(_json_number)] = Field(ge=0, le=100, allow_inf_nan=False)
    assessed_at: Instant | None = Field(default=None, alias="assessedAt")


class CreateHomework(Body):
    child_id: UUID = Field(alias="childId")
    session_id: UUID | None = Field(default=None, alias="sessionId")
    title: Title
    due_date: Day | None = Field(default=None, alias="dueDate")


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


EventKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
# Finite only: NaN, Infinity and 1e400 (which JSON parsers read as infinity) are not JSON numbers, and
# PostgreSQL's JSON refuses them.
EventValue = (
    Annotated[str, StringConstraints(max_length=2000)] | Annotated[float, Strict(), AllowInfNan(False)] | Flag | None
)


def _authored(kind: LearningEventType) -> LearningEventType:
    if kind.value not in AUTHORED_EVENT_TYPES:
        raise ValueError(
            f"{kind.value} is written by the service itself; post one of {', '.join(AUTHORED_EVENT_TYPES)}"
        )
    return kind


AuthoredEventType = Annotated[
    LearningEventType,
    AfterValidator(_authored),
    WithJsonSchema({"type": "string", "enum": AUTHORED_EVENT_TYPES}),
]


class CreateLearningEvent(Body):
    child_id: UUID = Field(alias="childId")
    session_id: UUID | None = Field(default=None, alias="sessionId")
    event_type: AuthoredEventType = Field(alias="eventType")
    # A flat object of named facts ({"wpm": 52, "passage": "level 6"}): what its schema says is what goes.
    event_data: Annotated[
        dict[EventKey, EventValue],
        AfterValidator(_small_json),
        AfterValidator(_no_nul),
        WithJsonSchema(
            {
                "type": "object",
                "maxProperties": 30,
                "additionalProperties": False,
                "patternProperties": {
                    r"^[A-Za-z][A-Za-z0-9_]{0,63}$": {
                        "anyOf": [
                            {"type": "string", "maxLength": 2000},
                            {"type": "number"},
                            {"type": "boolean"},
                            {"type": "null"},
                        ]
                    }
                },
            }
        ),
    ] = Field(default_factory=dict, alias="eventData", max_length=30)
    # The text the brief's search reads (full text at once, by vector within seconds).
    # pattern: the schema says what stripping means (a blank content is refused), as Name does.
    content: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=4000, pattern=r"\S"),
        AfterValidator(_no_nul),
    ]


class ParentList(BaseModel):
    parents: list[Parent]


class ChildErasureState(BaseModel):
    """A child's erasure (docs/security.md, "Erasure"): under way until ``completed_at``."""

    child_id: UUID
    requested_by: UUID = Field(description="Who asked first: an admin's id, or the parent's (a family link).")
    requested_at: datetime
    completed_at: datetime | None
    status: Literal["under_way", "done"]


class FamilyLinkIssued(BaseModel):
    """A family's link: send it to the parent, who puts it in ``X-Family-Link`` (never log it)."""

    link: str = Field(description="fl1.<parent id>.<version>.<expiry>.<signature>: a capability; keep it secret.")
    expires_at: datetime


OpsNote = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class OpsActionRequest(Body):
    """An ops desk action on one row, as the admin saw it (docs/operations.md, "The ops queue")."""

    seen_updated_at: Instant = Field(
        alias="seenUpdatedAt", description="The row's updated_at as listed: a row changed since is refused (409)."
    )
    note: OpsNote | None = Field(default=None, description="Why (kept in the audit row).")


class EndEnrollment(Body):
    reason: Reason = Field(description="Why the enrolment ends (kept with it; not sent to the parent).")


class EnrollmentEnded(BaseModel):
    enrollment_id: UUID
    ended_at: datetime
    ended_by: UUID
    end_reason: str
    cancelled_session_ids: list[UUID] = Field(description="The sessions still to come, now cancelled.")
    message_id: UUID | None = Field(description="The parent's message (queued once).")
    replayed: bool = Field(description="True: it was ended before; nothing changed now.")


class ReassignChild(Body):
    coach_id: UUID = Field(alias="coachId", description="The new coach.")
    reason: Reason | None = Field(default=None, description="Why (kept with the move; not sent).")


class ReassignmentState(BaseModel):
    id: UUID
    child_id: UUID
    from_coach_id: UUID
    to_coach_id: UUID
    requested_by: UUID
    reason: str | None
    message_id: UUID | None = Field(description="The parent's one message about the new coach.")
    created_at: datetime
    completed_at: datetime | None
    session_ids: list[UUID] = Field(description="The sessions still to come, now the new coach's.")
    status: Literal["under_way", "done"]
