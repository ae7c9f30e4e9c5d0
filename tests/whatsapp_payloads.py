"""Parent replies as WhatsApp sends them: a Cloud API button message, in either envelope, signed."""

import json
import secrets
import time
from typing import Any

import httpx

from coach_sessions.whatsapp_inbound import SIGNATURE_HEADER, sign
from tests.helpers import WEBHOOK_SECRET

WEBHOOK = "/api/webhooks/aisensy/cancel-response"


def button_tap(phone: str, text: str, *, context_id: str | None, message_id: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": phone.lstrip("+"),
        "id": message_id or "wamid." + secrets.token_hex(12),
        "timestamp": str(int(time.time())),
        "type": "button",
        "button": {"payload": text, "text": text},
    }
    if context_id is not None:
        message["context"] = {"from": "919000000000", "id": context_id}
    return message


def cloud_envelope(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "919000000000",
                                "phone_number_id": "106540352242922",
                            },
                            "contacts": [{"profile": {"name": "Parent"}, "wa_id": message["from"]}],
                            "messages": [message],
                        },
                    }
                ],
            }
        ],
    }


def aisensy_envelope(message: dict[str, Any]) -> dict[str, Any]:
    return {"topic": "message.sender.user", "project_id": "demo", "data": {"message": message}}


async def post_signed(
    http: httpx.AsyncClient, document: Any, *, secret: str = WEBHOOK_SECRET, prefix: str = "sha256="
) -> httpx.Response:
    body = json.dumps(document, ensure_ascii=False).encode()
    return await http.post(
        WEBHOOK,
        content=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: prefix + sign(secret, body)},
    )
