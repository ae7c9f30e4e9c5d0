"""WhatsApp templates (AiSensy campaigns) and the parameters each one takes, in one mapping.

Each campaign named here must exist in AiSensy as a live API campaign bound to an approved template
whose body has exactly these parameters, in this order.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class MessageContext:
    parent_name: str
    child_name: str
    coach_name: str
    session_number: int
    scheduled_at: datetime
    timezone: str
    reason: str = ""
    notes: str = ""


def format_when(at: datetime, timezone: str) -> str:
    local = at.astimezone(ZoneInfo(timezone))
    return local.strftime("%a %d %b %Y, %H:%M") + f" ({local.tzname()})"


@dataclass(frozen=True)
class Template:
    campaign_name: str
    params: Callable[[MessageContext], list[str]]


SESSION_SUMMARY = "P21_session_summary"
SESSION_NOSHOW = "P23_session_noshow"
CANCELLATION_REQUEST = "p26_cancellation_request"

TEMPLATES: dict[str, Template] = {
    SESSION_SUMMARY: Template(
        SESSION_SUMMARY,
        lambda c: [c.parent_name, c.child_name, str(c.session_number), c.coach_name, c.notes or "-"],
    ),
    SESSION_NOSHOW: Template(
        SESSION_NOSHOW,
        lambda c: [
            c.parent_name,
            c.child_name,
            str(c.session_number),
            format_when(c.scheduled_at, c.timezone),
        ],
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
    ),
}


def render_params(template_name: str, context: MessageContext) -> list[str]:
    return TEMPLATES[template_name].params(context)
