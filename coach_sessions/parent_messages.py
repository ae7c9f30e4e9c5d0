"""What reaches a parent after a coach's action, in one place: the message context a transition renders
its WhatsApp messages from, the notify-the-parent default for a no-show, and the preview of the text.

A coach's ``notes`` are private (the learning record, ``coach_notes``) and never feed a message: what
the parent reads is the ``parent_message`` the coach wrote for them, a reschedule's or cancellation
request's ``reason``, or the template's fixed text. The preview renders through the same functions as
the outbox row (``transition_context`` → ``render_params`` → ``render_text``), so it cannot drift.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from coach_sessions.contracts import SessionAction, TransitionRequest
from coach_sessions.templates import MessageContext, addressee, render_params, render_text

# A no-show notice about a session that ended longer ago than this is news to nobody: unless the coach
# asks for it, none is sent (the default of ``notifyParent`` when a client leaves it out).
NOTIFY_PARENT_DEFAULT_WITHIN = timedelta(hours=48)


def notify_parent(given: bool | None, parent_message: str | None, ends_at: datetime, now: datetime) -> bool:
    """Whether a no-show notice goes: the caller's explicit choice; else yes with a message for the
    parent (it was written to be sent); else yes only for a session that ended within 48 h."""
    if given is not None:
        return given
    return bool(parent_message) or now - ends_at <= NOTIFY_PARENT_DEFAULT_WITHIN


def transition_context(row: Mapping[str, Any], people: Mapping[str, Any], request: TransitionRequest) -> MessageContext:
    """The context a transition's messages are rendered from (``row``: the session as the transition
    leaves it, so a reschedule's notice has the new time)."""
    if request.action is SessionAction.RESCHEDULE:
        # The reschedule's own reason: the row may still hold an earlier cancellation request's reason.
        reason = request.reason or ""
    else:
        reason = row["cancellation_reason"] or request.reason or ""
    return MessageContext.from_row(
        dict(row) | dict(people),
        timezone=people["coach_timezone"],
        reason=reason,
        parent_message=request.parent_message or "",
        parent_phone=people["parent_phone"],
        decided_by=request.decided_by or request.actor.role,
    )


def masked_phone(phone: str) -> str:
    """Enough of a number to recognise it (+91•••••1234), not enough to copy it."""
    return f"{phone[:3]}•••••{phone[-4:]}" if len(phone) > 7 else "•" * len(phone)


class PreviewRecipient(BaseModel):
    name: str
    phone: str  # masked: +91•••••1234


class MessagePreview(BaseModel):
    """The WhatsApp message the parent would get from an action, or none (``template`` null)."""

    action: str
    notify_parent: bool | None = None  # mark missed only: the value the action would use
    template: str | None = None
    recipient: PreviewRecipient | None = None
    template_params: list[str] = []
    text: str | None = None


def preview(
    action: str,
    request: TransitionRequest,
    messages: tuple[tuple[str, str], ...],
    row: Mapping[str, Any],
    people: Mapping[str, Any],
) -> MessagePreview:
    """The parent's message among a planned change's ``messages`` (an action sends a parent at most
    one), rendered exactly as ``activities/sessions.py`` queues it."""
    notify = request.notify_parent if request.action is SessionAction.MARK_MISSED else None
    for template_name, recipient in messages:
        if recipient != "parent":
            continue  # the coach's own notices are not the parent's business
        phone, name = addressee(people, "parent")
        params = render_params(template_name, transition_context(row, people, request))
        return MessagePreview(
            action=action,
            notify_parent=notify,
            template=template_name,
            recipient=PreviewRecipient(name=name, phone=masked_phone(phone or "")),
            template_params=params,
            text=render_text(template_name, params),
        )
    return MessagePreview(action=action, notify_parent=notify)
