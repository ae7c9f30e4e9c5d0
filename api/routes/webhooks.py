"""Webhooks from providers: the parent's quick-reply tap on a cancellation request (AiSensy / WhatsApp)."""

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from api.errors import error_response
from api.openapi import JSON_BODY, errors
from api.schemas import WebhookAnswer
from api.webhook_schema import WEBHOOK_REQUEST
from coach_sessions.errors import ErrorCode
from coach_sessions.whatsapp_inbound import SIGNATURE_HEADER, parse_replies, signature_is_valid

router = APIRouter(prefix="/api/webhooks", tags=["cancellation consent"])


@router.post(
    "/aisensy/cancel-response",
    response_model=WebhookAnswer,
    responses=errors(*JSON_BODY, ErrorCode.UNAUTHORIZED, ErrorCode.INTERNAL_ERROR, ErrorCode.SERVICE_UNAVAILABLE),
    openapi_extra=WEBHOOK_REQUEST,
)
async def parent_reply(request: Request, services: ServicesDep) -> JSONResponse:
    """A parent's quick-reply tap (WhatsApp Cloud API message, in the Cloud API or AiSensy envelope).

    Signed with ``X-AiSensy-Signature: sha256=<hex HMAC-SHA256 of the raw body>``. Anything that
    cannot be matched is answered 200 ``ignored`` so the provider stops retrying.
    """
    body = await request.body()  # capped by api.middleware.BodyLimitMiddleware (413) before it is read
    secret = request.app.state.settings.aisensy_webhook_secret
    if not signature_is_valid(secret, body, request.headers.get(SIGNATURE_HEADER)):
        return error_response(ErrorCode.UNAUTHORIZED, "Missing or invalid webhook signature.")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested deeper than the parser goes
        return error_response(ErrorCode.MALFORMED_PAYLOAD, "The body is not JSON.")
    results = [await services.parent_replies.handle(reply) for reply in parse_replies(document)]
    answer = WebhookAnswer(
        status=results[0].status if len(results) == 1 else ("processed" if results else "ignored"),
        results=[{"message_id": r.message_id, "status": r.status} for r in results],
    )
    return JSONResponse(answer.model_dump())
