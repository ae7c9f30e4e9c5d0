"""Reading AiSensy / WhatsApp Cloud API webhooks: signature check and quick-reply extraction. Pure."""

import hashlib
import hmac
import itertools
import math
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
    """The header value a sender computes: hex HMAC-SHA256 of the raw body (docs/domain.md shows it)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def signature_is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Anything but 64 hex digits (optionally after ``sha256=``) is simply a bad signature: a
    non-ASCII header must not reach ``compare_digest``, which raises on non-ASCII text."""
    if not secret or not header:
        return False
    given = header.strip()
    if given.lower().startswith("sha256="):
        given = given[len("sha256=") :]
    if not _HEX_DIGEST.fullmatch(given):
        return False
    return hmac.compare_digest(sign(secret, body), given.lower())


# A delivery carries one tap in practice; more than this many messages are not looked at (each one
# costs a database transaction, and a signed body is still a body someone may have replayed).
MAX_MESSAGES_PER_DELIVERY = 20
# The raw message is kept (jsonb) for ops; deeper structure than this is cut, never recursed into.
MAX_STORED_DEPTH = 16
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any, depth: int = 0) -> Any:
    """A copy PostgreSQL can store: NUL and lone surrogates become U+FFFD, non-finite numbers and
    structure deeper than MAX_STORED_DEPTH become null."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_STORED_DEPTH:
        return None
    if isinstance(value, dict):
        return {storable(str(k)): storable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v, depth + 1) for v in value]
    return None


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


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _list(parent: dict[str, Any], key: str) -> list[Any]:
    value = parent.get(key)
    return value if isinstance(value, list) else []


def _messages(document: Any) -> Iterator[Any]:
    """Every candidate message; any part of the envelope of another type than expected is skipped."""
    if not isinstance(document, dict):
        return
    for entry in _list(document, "entry"):  # Cloud API envelope
        for change in _list(entry, "changes") if isinstance(entry, dict) else []:
            if isinstance(change, dict):
                yield from _list(_object(change, "value"), "messages")
    data = _object(document, "data")  # AiSensy envelope: {topic, data: {message: …}}
    message = data.get("message")
    if isinstance(message, dict):
        yield message
    elif isinstance(message, list):
        yield from message
    yield from _list(document, "messages")


def _text(value: Any, limit: int) -> str | None:
    """A label as storable text (numbers are read as their digits), or None."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return storable(str(value))[:limit]  # type: ignore[no-any-return]


def parse_replies(document: Any) -> list[InboundReply]:
    """Every message in the payload that could be a quick-reply tap (others are skipped)."""
    replies = []
    for message in itertools.islice(_messages(document), MAX_MESSAGES_PER_DELIVERY):
        if not isinstance(message, dict):
            continue
        message_id, sender = message.get("id"), message.get("from")
        if not isinstance(message_id, str) or not message_id or isinstance(sender, bool):
            continue
        digits = re.sub(r"\D", "", str(sender)) if isinstance(sender, str | int) else ""
        if not 8 <= len(digits) <= 15:  # not a phone number (E.164 has at most 15 digits)
            continue
        button = _object(message, "button")
        reply = _object(_object(message, "interactive"), "button_reply")
        payload = _text(button.get("payload"), 200) or _text(reply.get("id"), 200)
        text = _text(button.get("text"), 500) or _text(reply.get("title"), 500)
        text = text or _text(_object(message, "text").get("body"), 500)
        replies.append(
            InboundReply(
                provider_message_id=storable(message_id)[:200],
                from_phone="+" + digits,
                context_message_id=_text(_object(message, "context").get("id"), 200),
                button_payload=payload,
                button_text=text,
                choice=choice_of(payload, text),
                payload=storable(message),
            )
        )
    return replies
