"""WhatsApp templates (AiSensy campaigns) and the parameters each one takes, in one mapping.

Each campaign named here must exist in AiSensy as a live API campaign bound to an approved template
whose body has exactly these parameters, in this order. ``body`` is that approved text, word for word,
with ``{{1}}``… where the parameters go: the message preview (``render_text``) shows a coach what the
parent will read, so a template edited in AiSensy is edited here too.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo

Recipient = Literal["parent", "coach"]


@dataclass(frozen=True)
class MessageContext:
    parent_name: str
    child_name: str
    coach_name: str
    session_number: int
    scheduled_at: datetime
    timezone: str
    reason: str = ""
    # What the coach wrote for the parent (``parentMessage``); never the private ``notes`` of an action.
    parent_message: str = ""
    notes: str = ""  # a system text (the late-tap notice's outcome), not a coach's notes
    parent_phone: str = ""
    decided_by: str = ""
    meet_link: str = ""
    locked_sessions: int = 0  # later sessions waiting behind this one (the sequence lock)
    sessions_cancelled: int = 0  # an enrolment ended early: the sessions that will not happen (or that moved)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, timezone: str, **details: Any) -> Self:
        """From a row of the session joined with its child, parent and coach (``child_name``,
        ``parent_name``, ``coach_name``, ``session_number``, ``scheduled_at``), read in ``timezone``."""
        return cls(
            parent_name=row["parent_name"],
            child_name=row["child_name"],
            coach_name=row["coach_name"],
            session_number=row["session_number"],
            scheduled_at=row["scheduled_at"],
            timezone=timezone,
            **details,
        )


def addressee(row: Mapping[str, Any], recipient: Recipient) -> tuple[str | None, str]:
    """The phone and name a message to the session's parent or coach goes to (from the same joined row;
    a coach may have no WhatsApp number: None)."""
    return row[f"{recipient}_phone"], row[f"{recipient}_name"]


def format_when(at: datetime, timezone: str) -> str:
    local = at.astimezone(ZoneInfo(timezone))
    return local.strftime("%a %d %b %Y, %H:%M") + f" ({local.tzname()})"


@dataclass(frozen=True)
class Template:
    campaign_name: str
    params: Callable[[MessageContext], list[str]]
    body: str


SESSION_SUMMARY = "P21_session_summary"
SESSION_NOSHOW = "P23_session_noshow"
# The no-show notice with a message from the coach: an approved template's parameters are fixed, so the
# message needs a template of its own (P23 stays as it was for a no-show without one).
SESSION_NOSHOW_MESSAGE = "p29_session_noshow_message"
# Its approved template carries three quick-reply buttons: Approve, Reschedule, Call Me.
CANCELLATION_REQUEST = "p26_cancellation_request"
CANCELLATION_WITHDRAWN = "p27_cancellation_withdrawn"
CANCELLATION_ALREADY_DECIDED = "p28_cancellation_already_decided"
COACH_CANCELLATION_APPROVED = "c01_cancellation_approved"
COACH_CANCELLATION_REJECTED = "c02_cancellation_rejected"
COACH_CALLBACK_REQUESTED = "c03_parent_callback_requested"
# Timers (docs/domain.md, "Timers and nudges"): the parent's reminder before a session (the date and time in
# the parent's timezone when recorded, else the coach's; the Meet link), and the coach's nudge for a
# session left pending.
SESSION_REMINDER = "p22_session_reminder"
SESSION_RESCHEDULED = "p25_session_rescheduled"
COACH_PENDING_NUDGE = "c04_pending_session_nudge"
# An admin ended the child's enrolment early (the family leaves): the parent is told once.
ENROLLMENT_ENDED = "p30_enrollment_ended"
# An admin moved the child to another coach: the parent is told once (the new coach, how many sessions move).
COACH_CHANGED = "p31_coach_changed"


def _meet_link(c: "MessageContext") -> str:
    return c.meet_link or "the link is in the calendar invitation"


def _summary(c: "MessageContext") -> str:
    # Without a message for the parent the slot still needs text: a neutral sentence, never the notes.
    return c.parent_message or f"Session {c.session_number} is complete."


def _locked(c: "MessageContext") -> str:
    if not c.locked_sessions:
        return "-"
    later = "1 later session is" if c.locked_sessions == 1 else f"{c.locked_sessions} later sessions are"
    return f"{later} locked until it is resolved"


TEMPLATES: dict[str, Template] = {
    SESSION_SUMMARY: Template(
        SESSION_SUMMARY,
        lambda c: [c.parent_name, c.child_name, str(c.session_number), c.coach_name, _summary(c)],
        "Hello {{1}}, {{2}} has completed session {{3}} with {{4}}.\n\nFrom the coach: {{5}}",
    ),
    SESSION_NOSHOW: Template(
        SESSION_NOSHOW,
        lambda c: [
            c.parent_name,
            c.child_name,
            str(c.session_number),
            format_when(c.scheduled_at, c.timezone),  # the session's own date: it may be weeks ago
        ],
        "Hello {{1}}, {{2}} did not attend session {{3}} on {{4}}. The coach will be in touch about the next one.",
    ),
    SESSION_NOSHOW_MESSAGE: Template(
        SESSION_NOSHOW_MESSAGE,
        lambda c: [
            c.parent_name,
            c.child_name,
            str(c.session_number),
            format_when(c.scheduled_at, c.timezone),
            c.parent_message,
        ],
        "Hello {{1}}, {{2}} did not attend session {{3}} on {{4}}.\n\nFrom the coach: {{5}}",
    ),
    CANCELLATION_REQUEST: Template(
        CANCELLATION_REQUEST,
        lambda c: [
            c.parent_name,
            c.child_name,
            str(c.session_number),
            format_when(c.scheduled_at, c.timezone),
            c.reason,
        ],
        "Hello {{1}}, the coach would like to cancel {{2}}'s session {{3}} on {{4}}.\nReason: {{5}}\n\n"
        "Please answer Approve, Reschedule or Call Me. Without an answer the cancellation goes ahead.",
    ),
    CANCELLATION_WITHDRAWN: Template(
        CANCELLATION_WITHDRAWN,
        lambda c: [
            c.parent_name,
            c.child_name,
            str(c.session_number),
            format_when(c.scheduled_at, c.timezone),
        ],
        "Hello {{1}}, the coach has withdrawn the cancellation of {{2}}'s session {{3}} on {{4}}: it goes ahead.",
    ),
    CANCELLATION_ALREADY_DECIDED: Template(
        CANCELLATION_ALREADY_DECIDED,
        lambda c: [c.parent_name, str(c.session_number), c.notes],
        "Hello {{1}}, your answer about session {{2}} came after it was decided: {{3}}.",
    ),
    COACH_CANCELLATION_APPROVED: Template(
        COACH_CANCELLATION_APPROVED,
        lambda c: [
            c.coach_name,
            c.child_name,
            str(c.session_number),
            format_when(c.scheduled_at, c.timezone),
            c.decided_by,
        ],
        "Hello {{1}}, the cancellation of {{2}}'s session {{3}} on {{4}} is approved (by {{5}}).",
    ),
    COACH_CANCELLATION_REJECTED: Template(
        COACH_CANCELLATION_REJECTED,
        lambda c: [
            c.coach_name,
            c.child_name,
            str(c.session_number),
            format_when(c.scheduled_at, c.timezone),
        ],
        "Hello {{1}}, the parent of {{2}} would rather reschedule session {{3}} on {{4}} than cancel it.",
    ),
    COACH_CALLBACK_REQUESTED: Template(
        COACH_CALLBACK_REQUESTED,
        lambda c: [c.coach_name, c.parent_name, c.parent_phone, c.child_name, str(c.session_number)],
        "Hello {{1}}, {{2}} ({{3}}) asks you to call about cancelling {{4}}'s session {{5}}.",
    ),
    SESSION_RESCHEDULED: Template(
        SESSION_RESCHEDULED,
        lambda c: [
            c.parent_name,
            c.child_name,
            str(c.session_number),
            format_when(c.scheduled_at, c.timezone),  # the new time
            c.reason or "-",
        ],
        "Hello {{1}}, {{2}}'s session {{3}} has moved to {{4}}.\nReason: {{5}}",
    ),
    SESSION_REMINDER: Template(
        SESSION_REMINDER,
        lambda c: [
            c.parent_name,
            c.child_name,
            str(c.session_number),
            format_when(c.scheduled_at, c.timezone),
            _meet_link(c),
        ],
        "Hello {{1}}, a reminder: {{2}}'s session {{3}} is on {{4}}. Join: {{5}}",
    ),
    COACH_PENDING_NUDGE: Template(
        COACH_PENDING_NUDGE,
        lambda c: [
            c.coach_name,
            c.child_name,
            str(c.session_number),
            format_when(c.scheduled_at, c.timezone),
            _locked(c),
        ],
        "Hello {{1}}, {{2}}'s session {{3}} on {{4}} still awaits your update ({{5}}).",
    ),
    ENROLLMENT_ENDED: Template(
        ENROLLMENT_ENDED,
        lambda c: [c.parent_name, c.child_name, c.coach_name, str(c.sessions_cancelled)],
        "Hello {{1}}, {{2}}'s sessions with {{3}} have ended as agreed: the {{4}} sessions still planned are"
        " cancelled. {{2}}'s reading record is kept.",
    ),
    COACH_CHANGED: Template(
        COACH_CHANGED,
        lambda c: [c.parent_name, c.child_name, c.coach_name, str(c.sessions_cancelled)],
        "Hello {{1}}, {{2}}'s next {{4}} sessions will be with {{3}}, at the same times. New Meet links"
        " follow in the invitations and reminders.",
    ),
}


def render_params(template_name: str, context: MessageContext) -> list[str]:
    return TEMPLATES[template_name].params(context)


_PLACEHOLDER = re.compile(r"\{\{([1-9][0-9]*)\}\}")


def render_text(template_name: str, params: list[str]) -> str:
    """The text the recipient reads: the template's body with its parameters in place. The one
    rendering of a message's text (the preview, the local provider's log), from the params as queued."""
    return _PLACEHOLDER.sub(lambda m: params[int(m.group(1)) - 1], TEMPLATES[template_name].body)


def placeholder_count(template_name: str) -> int:
    return len(set(_PLACEHOLDER.findall(TEMPLATES[template_name].body)))
