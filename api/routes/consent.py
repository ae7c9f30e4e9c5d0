"""Cancellation with the parent's consent: request, withdraw, admin decision, and the parent's tap."""

import json

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from api.deps import AdminPrincipal, CurrentPrincipal, IdempotencyKey, ServicesDep
from api.errors import error_response
from api.openapi import ADMIN_ONLY, AUTHENTICATED, JSON_BODY, errors
from api.schemas import (
    DecideCancellation,
    RequestCancellation,
    SessionEnvelope,
    WebhookAnswer,
    WithdrawCancellation,
)
from api.webhook_schema import WEBHOOK_REQUEST
from coach_sessions.errors import ErrorCode
from coach_sessions.whatsapp_inbound import SIGNATURE_HEADER, parse_replies, signature_is_valid

router = APIRouter(tags=["cancellation consent"])


@router.post(
    "/api/sessions/request-cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SessionEnvelope,
    responses=errors(*AUTHENTICATED, *JSON_BODY, 403, 404, 409),
)
async def request_cancellation(
    body: RequestCancellation,
    principal: CurrentPrincipal,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> SessionEnvelope:
    """The coach asks the parent (WhatsApp, buttons Approve / Reschedule / Call Me); no answer within
    the consent window (CANCELLATION_AUTO_APPROVE_AFTER, default 48 h) approves it."""
    return SessionEnvelope(
        session=await services.sessions.request_cancellation(
            principal, body.session_id, reason=body.reason, idempotency_key=idempotency_key
        )
    )


@router.post(
    "/api/sessions/withdraw-cancel",
    response_model=SessionEnvelope,
    responses=errors(*AUTHENTICATED, *JSON_BODY, 404, 409),
)
async def withdraw_cancellation(
    body: WithdrawCancellation,
    principal: CurrentPrincipal,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> SessionEnvelope:
    """The coach takes back a pending request; the parent is told the session stands."""
    return SessionEnvelope(
        session=await services.sessions.withdraw_cancellation(
            principal, body.session_id, idempotency_key=idempotency_key
        )
    )


@router.post(
    "/api/sessions/decide-cancel",
    response_model=SessionEnvelope,
    responses=errors(*AUTHENTICATED, *JSON_BODY, *ADMIN_ONLY, 404, 409),
)
async def decide_cancellation(
    body: DecideCancellation, principal: AdminPrincipal, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> SessionEnvelope:
    """An admin decides a pending request, e.g. for a parent who phoned in."""
    return SessionEnvelope(
        session=await services.sessions.decide_cancellation(
            principal, body.session_id, decision=body.decision, idempotency_key=idempotency_key
        )
    )


@router.post(
    "/api/webhooks/aisensy/cancel-response",
    response_model=WebhookAnswer,
    responses=errors(*JSON_BODY, 401, 500, 503),
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
    results = [await services.consent_replies.handle(reply) for reply in parse_replies(document)]
    answer = WebhookAnswer(
        status=results[0].status if len(results) == 1 else ("processed" if results else "ignored"),
        results=[{"message_id": r.message_id, "status": r.status} for r in results],
    )
    return JSONResponse(answer.model_dump())
