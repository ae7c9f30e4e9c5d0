"""Structured JSON logs: one object per line, with request/session/workflow ids when known.

What a log line carries: ids, statuses, codes, counts and durations. Never a phone number, a name
(child, parent, coach), a note, a reason, a message's parameters or an email: every call site logs ids
instead (docs/security.md, "Personal data in logs, prompts and errors"). :class:`PersonalDataFilter`
is a net under that rule, not the rule: it masks what *looks* like an E.164 phone number or an email
in any record that still carries one (a provider's error text, a library's message), and cannot
recognise a name or a note.
"""

import contextvars
import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


# An E.164 number (``+`` and 8-15 digits, spaces/dashes allowed between groups), or a bare run of 10+
# digits (a number written without its ``+``); ids in this service are UUIDs, so no id looks like either.
_PHONE = re.compile(r"\+[1-9](?:[ -]?\d){7,14}(?!\d)|(?<![\w-])\d{10,15}(?![\w-])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PHONE_MASK = "[phone]"
EMAIL_MASK = "[email]"


def mask_contacts(text: str) -> str:
    """``text`` with what looks like a phone number or an email replaced by ``[phone]`` / ``[email]``."""
    return _PHONE.sub(PHONE_MASK, _EMAIL.sub(EMAIL_MASK, text))


def error_text(error: BaseException | str, limit: int = 200) -> str:
    """A provider's or library's error text fit for a log line or a stored ``last_error``: bounded to
    ``limit`` characters, with phone numbers and emails masked (an error body may echo a request's)."""
    text = error if isinstance(error, str) else str(error)
    text = mask_contacts(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stack_only(error: BaseException) -> str:
    """Where an exception was raised (its type and frames) without its message, which may quote data
    (a pydantic error's input, a Postgres error's ``Key (phone)=(...)``). Chained causes too."""
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.format_list(traceback.extract_tb(current.__traceback__))
        lines.append(f"Traceback of {type(current).__module__}.{type(current).__qualname__} (message withheld):\n")
        lines.extend(frames)
        current = current.__cause__ or current.__context__
    return "".join(lines).rstrip()


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_contacts(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_masked(v) for v in value)
    return value


class PersonalDataFilter(logging.Filter):
    """Defence in depth: masks E.164 phone numbers and emails in a record's message and extras.

    The message is formatted once (``msg % args``) and the args dropped, so the mask also covers
    arguments; an exception's text is masked when formatted (``JsonFormatter``). Not the rule: call
    sites log ids, and no pattern finds a name or a note.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the template, drop the arguments
            message = str(record.msg)
        record.msg, record.args = mask_contacts(message), None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and not key.startswith("_"):
                record.__dict__[key] = _masked(value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (request_id := request_id_var.get()) is not None:
            payload["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            # The type and the frames, not the message: an exception's text may quote data.
            error = record.exc_info[1]
            payload["exc"] = (
                stack_only(error) if error is not None else mask_contacts(self.formatException(record.exc_info))
            )
        return json.dumps(payload, default=str, ensure_ascii=False)


# The Temporal SDK's worker prints whole activations and activity completions (their payloads: notes,
# reasons, session records, in plaintext) at DEBUG. Those loggers stay at INFO whatever LOG_LEVEL says;
# our own activity and workflow lines (``temporalio.activity`` / ``temporalio.workflow``) are not them.
PAYLOAD_LOGGERS = ("temporalio.worker",)


def keep_payloads_out_of_logs() -> None:
    for name in PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    keep_payloads_out_of_logs()
