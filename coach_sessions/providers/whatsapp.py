"""WhatsApp template messages to parents: AiSensy's campaign API, or a local stand-in.

A send can end three ways besides success, and the outbox treats them differently:
:class:`WhatsAppNotSentError` (provably nothing sent: retry), :class:`WhatsAppRejectedError` (will never
succeed: fail the message) and :class:`WhatsAppUncertainError` (the request may have reached AiSensy:
never resend blindly, since AiSensy has no idempotency key and a resend could message the parent twice).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, Field

from coach_sessions.logging import error_text
from coach_sessions.settings import Settings

log = logging.getLogger(__name__)

SOURCE = "coach-sessions"  # shows up in AiSensy as the contact's lead source
# Keys under which a message id may come back; AiSensy documents only "HTTP 200" for success.
_MESSAGE_ID_KEYS = ("submitted_message_id", "messageId", "message_id", "id")


class WhatsAppMessage(BaseModel):
    destination: str = Field(pattern=r"^\+[1-9][0-9]{7,14}$")  # E.164, as stored in the outbox
    user_name: str
    campaign_name: str  # an AiSensy API campaign, bound to one approved template
    template_params: list[str]
    idempotency_key: str  # the outbox key; for logs and tracing (AiSensy has no such header)


class SendResult(BaseModel):
    provider: str
    provider_message_id: str | None


class WhatsAppError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class WhatsAppNotSentError(WhatsAppError):
    """Nothing was sent (connection refused, 5xx other than 504, 408, 429): safe to retry."""


class WhatsAppRejectedError(WhatsAppError):
    """A 4xx other than 429 (bad key, unknown campaign, wrong parameter count): will never succeed."""


class WhatsAppUncertainError(WhatsAppError):
    """The request may have reached the provider (read timeout, dropped connection, 504)."""


class WhatsAppProvider(Protocol):
    name: str

    async def send(self, message: WhatsAppMessage) -> SendResult: ...


def _message_id(response: httpx.Response) -> str | None:
    try:
        payload: Any = response.json()
    except ValueError:
        return None
    for candidate in (payload, payload.get("data") if isinstance(payload, dict) else None):
        if not isinstance(candidate, dict):
            continue
        for key in _MESSAGE_ID_KEYS:
            value = candidate.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)
    return None


def _detail(response: httpx.Response) -> str:
    """AiSensy's reason, bounded and with phone numbers and emails masked: the text ends up in logs,
    the outbox's ``last_error`` and the workflow's history, and a provider's error may echo the request."""
    try:
        payload = response.json()
    except ValueError:
        return error_text(response.text)
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        return error_text(str(payload["message"]))
    return error_text(response.text)


class AiSensyProvider:
    """``POST {aisensy_api_url}`` with the campaign body; the http client's timeouts apply.

    ``destination`` is sent in E.164 with its ``+`` (AiSensy's current docs recommend
    ``+<country code><number>``; without a resolvable country code they assume India).
    """

    name = "aisensy"

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        if not settings.aisensy_api_key:
            raise ValueError("WHATSAPP_PROVIDER=aisensy needs AISENSY_API_KEY")
        self._url = settings.aisensy_api_url
        self._api_key = settings.aisensy_api_key
        self._http = http

    def payload(self, message: WhatsAppMessage) -> dict[str, Any]:
        return {
            "apiKey": self._api_key,
            "campaignName": message.campaign_name,
            "destination": message.destination,
            "userName": message.user_name,
            "templateParams": message.template_params,
            "source": SOURCE,
        }

    async def send(self, message: WhatsAppMessage) -> SendResult:
        try:
            response = await self._http.post(self._url, json=self.payload(message))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection was ever made, so no byte of the request left this machine.
            raise WhatsAppNotSentError(f"AiSensy unreachable: {type(exc).__name__}: {error_text(exc)}") from exc
        except httpx.TransportError as exc:
            # Read/write timeouts, dropped connections: the request may have been processed.
            raise WhatsAppUncertainError(f"AiSensy outcome unknown: {type(exc).__name__}: {error_text(exc)}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(provider=self.name, provider_message_id=_message_id(response))
        text = f"AiSensy answered {status}: {_detail(response)}"
        if status == 504:
            # A gateway timed out waiting for AiSensy, which may still have sent the message.
            raise WhatsAppUncertainError(text, status_code=status)
        if status in (408, 429) or status >= 500:
            raise WhatsAppNotSentError(text, status_code=status)
        raise WhatsAppRejectedError(text, status_code=status)


class LocalWhatsAppProvider:
    """Logs that a message would have gone out instead of sending it; the outbox row in Postgres is
    the record (its destination, parameters and text: the message preview renders it).

    The log line names the template, the outbox key (ids) and the parameter count, never the number,
    the recipient's name or the parameters (names, dates, a reason): docs/security.md.
    """

    name = "local"

    async def send(self, message: WhatsAppMessage) -> SendResult:
        provider_message_id = f"local-{uuid.uuid4().hex}"
        log.info(
            "LOCAL WHATSAPP (not sent): template=%s",
            message.campaign_name,
            extra={
                "idempotency_key": message.idempotency_key,
                "param_count": len(message.template_params),
                "provider_message_id": provider_message_id,
            },
        )
        return SendResult(provider=self.name, provider_message_id=provider_message_id)


def build_whatsapp_provider(settings: Settings, http: httpx.AsyncClient) -> WhatsAppProvider:
    if settings.whatsapp_provider == "aisensy":
        return AiSensyProvider(settings, http)
    return LocalWhatsAppProvider()
