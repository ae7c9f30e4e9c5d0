"""Reading AiSensy / WhatsApp Cloud API webhooks: signature check and quick-reply extraction. Pure."""

import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from coach_sessions.statuses import ConsentChoice

SIGNATURE_HEADER = "X-AiSensy-Signature"


@dataclass(frozen=True)
class InboundReply:
    """One quick-reply tap as the webhook delivered it (the repository records and matches it)."""

    provider_message_id: str
    from_phone: str  # E.164 with "+"
    context_message_id: str | None
    button_payload: str | None
    button_text: str | None
    choice: ConsentChoice | None
    payload: dict[str, Any]


def sign(secret: str, body: bytes) -> str:
    """The header value a sender computes: hex HMAC-SHA256 of the raw body (the README shows it)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_is_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header:
        return False
    given = header.strip()
    if given.lower().startswith("sha256="):
        given = given[len("sha256=") :]
    return hmac.compare_digest(sign(secret, body), given.lower())


def choice_of(*labels: str | None) -> ConsentChoice | None:
    """Map a button's payload or text ("Approve", "APPROVE_CANCEL", "Call Me", …) to a choice."""
    for label in labels:
        words = re.sub(r"[^a-z]+", " ", (label or "").lower())
        if "approve" in words:
            return ConsentChoice.APPROVE
        if "reschedule" in words:
            return ConsentChoice.RESCHEDULE
        if re.search(r"\bcall\b", words):
            return ConsentChoice.CALL_ME
    return None


def _messages(document: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(document, dict):
        return
    for entry in document.get("entry") or []:  # Cloud API envelope
        for change in (entry or {}).get("changes") or []:
            yield from ((change or {}).get("value") or {}).get("messages") or []
    data = document.get("data")
    if isinstance(data, dict):  # AiSensy envelope: {topic, data: {message: …}}
        message = data.get("message")
        if isinstance(message, dict):
            yield message
        elif isinstance(message, list):
            yield from message
    if isinstance(document.get("messages"), list):
        yield from document["messages"]


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def parse_replies(document: Any) -> list[InboundReply]:
    """Every message in the payload that could be a quick-reply tap (others are skipped)."""
    replies = []
    for message in _messages(document):
        if not isinstance(message, dict):
            continue
        message_id, sender = message.get("id"), message.get("from")
        if not isinstance(message_id, str) or not isinstance(sender, str | int):
            continue
        digits = re.sub(r"\D", "", str(sender))
        button = _object(message, "button")
        reply = _object(_object(message, "interactive"), "button_reply")
        payload = button.get("payload") or reply.get("id")
        text = button.get("text") or reply.get("title") or _object(message, "text").get("body")
        context = _object(message, "context")
        replies.append(
            InboundReply(
                provider_message_id=message_id[:200],
                from_phone="+" + digits,
                context_message_id=context.get("id") if isinstance(context.get("id"), str) else None,
                button_payload=str(payload)[:200] if payload is not None else None,
                button_text=str(text)[:500] if text is not None else None,
                choice=choice_of(str(payload) if payload else None, str(text) if text else None),
                payload=message,
            )
        )
    return replies
