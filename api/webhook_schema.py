"""The webhook's request body as OpenAPI declares it: a WhatsApp Cloud API message in either envelope.

The route reads the raw body itself (the signature covers the exact bytes), so FastAPI cannot infer
this schema; it is declared here and attached with ``openapi_extra``.
"""

from typing import Any

_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["from", "id"],
    "properties": {
        "from": {"type": "string", "description": "The sender's number, digits without '+'."},
        "id": {"type": "string", "description": "The provider's message id (wamid…)."},
        "timestamp": {"type": "string"},
        "type": {"type": "string", "enum": ["button", "interactive", "text"]},
        "button": {
            "type": "object",
            "properties": {"payload": {"type": "string"}, "text": {"type": "string"}},
        },
        "context": {
            "type": "object",
            "description": "The message this one answers; its id must be a message sent to `from`.",
            "properties": {"from": {"type": "string"}, "id": {"type": "string"}},
        },
        "text": {"type": "object", "properties": {"body": {"type": "string"}}},
    },
}

_CLOUD_API: dict[str, Any] = {
    "title": "CloudApiEnvelope",
    "type": "object",
    "required": ["entry"],
    "properties": {
        "object": {"type": "string"},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "changes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "field": {"type": "string"},
                                "value": {
                                    "type": "object",
                                    "properties": {"messages": {"type": "array", "items": _MESSAGE}},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}

_AISENSY: dict[str, Any] = {
    "title": "AiSensyEnvelope",
    "type": "object",
    "required": ["data"],
    "properties": {
        "topic": {"type": "string"},
        "project_id": {"type": "string"},
        "data": {"type": "object", "properties": {"message": _MESSAGE}},
    },
}

WEBHOOK_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "Signed with the header `X-AiSensy-Signature: sha256=<hex HMAC-SHA256 of the raw body>` "
            "(AISENSY_WEBHOOK_SECRET). At most 64 KiB. A body that parses into no known message is "
            "answered 200 `ignored`."
        ),
        "content": {"application/json": {"schema": {"anyOf": [_CLOUD_API, _AISENSY]}}},
    }
}
