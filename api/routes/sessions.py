"""/api/sessions: read a child's sessions or one session; complete, miss, reschedule, cancel; and
cancellation with the parent's consent (request, withdraw, admin decision). The parent's tap arrives
through api/routes/webhooks.py."""

from enum import Enum
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Query, status
from fastapi.exceptions import RequestValidationError
from starlette.convertors import Convertor, register_url_convertor

from api.deps import AdminPrincipal, CurrentPrincipal, IdempotencyKey, ServicesDep
from api.message_bodies import MessagePreview, MessagePreviewBody
from api.openapi import ACTION, ADMIN_ONLY, AUTHENTICATED, AUTHENTICATED_WRITE, JSON_BODY, errors
from api.schemas import (
    CancelSession,
    CompleteSession,
    DecideCancellation,
    MarkMissed,
    Reason,
    RequestCancellation,
    RescheduleSession,
    SessionEnvelope,
    SessionList,
    WithdrawCancellation,
)
from coach_sessions.errors import DomainError, ErrorCode

router = APIRouter(prefix="/api/sessions")

# The literal paths next to /api/sessions/{session_id} (tests/test_session_read.py checks the list).
SIBLING_PATHS = (
    "available-slots",
    "complete",
    "missed",
    "message-preview",
    "request-cancel",
    "withdraw-cancel",
    "decide-cancel",
)


class _SessionSegment(Convertor[str]):
    """Any one segment except a sibling's name. With a plain {session_id}, GET /api/sessions/complete
    matched the read route (a 422 on the id) instead of answering 405 as it does: Starlette prefers a
    route whose method matches to one whose path does. A segment that is not a UUID is still a 422."""

    regex = "(?!(?:" + "|".join(SIBLING_PATHS) + ")$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("session_segment", _SessionSegment())
# Tags per operation: the consent actions keep their own group in /docs.
SESSIONS: list[str | Enum] = ["sessions"]
CONSENT: list[str | Enum] = ["cancellation consent"]
# What completing or marking missed adds: not started yet, an earlier session unresolved, a request pending.
STARTED = (ErrorCode.SESSION_NOT_STARTED, ErrorCode.SESSION_LOCKED, ErrorCode.CANCELLATION_PENDING)
# What a coach's reschedule or cancellation request adds: a request pending, inside the minimum notice.
MOVE = (ErrorCode.CANCELLATION_PENDING, ErrorCode.INSIDE_MINIMUM_NOTICE)


@router.get(
    "",
    tags=SESSIONS,
    response_model=SessionEnvelope | SessionList,
    responses=errors(*AUTHENTICATED, ErrorCode.SESSION_NOT_FOUND, ErrorCode.NOT_FOUND),
)
async def read_sessions(
    principal: CurrentPrincipal,
    services: ServicesDep,
    child_id: Annotated[UUID | None, Query(alias="childId")] = None,
    session_id: Annotated[UUID | None, Query(alias="sessionId")] = None,
) -> SessionEnvelope | SessionList:
    """`?childId=` → the child's sessions in order; `?sessionId=` → one session. Exactly one of them."""
    if (child_id is None) == (session_id is None):
        raise DomainError(ErrorCode.VALIDATION_ERROR, "Give exactly one of childId or sessionId.")
    if session_id is not None:
        return SessionEnvelope(session=await services.sessions.get(principal, session_id))
    assert child_id is not None
    return SessionList(sessions=await services.sessions.list_for_child(principal, child_id))


@router.get(
    "/{session_id:session_segment}",
    tags=SESSIONS,
    response_model=SessionEnvelope,
    responses=errors(*AUTHENTICATED, ErrorCode.SESSION_NOT_FOUND),
)
async def read_session(principal: CurrentPrincipal, services: ServicesDep, session_id: UUID) -> SessionEnvelope:
    """One session, visible to its coach and to admins: always `{"session": …}`."""
    return SessionEnvelope(session=await services.sessions.get(principal, session_id))


@router.post(
    "/message-preview",
    tags=SESSIONS,
    response_model=MessagePreview,
    responses=errors(
        *AUTHENTICATED_WRITE,
        *JSON_BODY,
        ErrorCode.SESSION_NOT_FOUND,
        ErrorCode.INVALID_STATUS,
        *STARTED,
        *MOVE,
        ErrorCode.TIME_IN_PAST,
        ErrorCode.FORBIDDEN,
        ErrorCode.PARENT_CONSENT_REQUIRED,
    ),
)
async def preview_parent_message(
    body: MessagePreviewBody, principal: CurrentPrincipal, services: ServicesDep
) -> MessagePreview:
    """The WhatsApp message the action would send the parent (template, its parameters, the text, the
    masked number), or `template: null` when it sends none. Read-only: nothing is written or sent. An
    action the session would refuse is refused here with the same code."""
    return await services.message_previews.preview(principal, body)


@router.post(
    "/complete",
    tags=SESSIONS,
    response_model=SessionEnvelope,
    responses=errors(*AUTHENTICATED_WRITE, *JSON_BODY, *ACTION, *STARTED),
)
async def complete_session(
    body: CompleteSession, principal: CurrentPrincipal, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> SessionEnvelope:
    """Mark a started, unlocked session completed (learning event + session summary to the parent, which
    carries parentMessage or a fixed sentence: never the private notes)."""
    return SessionEnvelope(
        session=await services.sessions.complete(
            principal,
            body.session_id,
            notes=body.notes or None,
            parent_message=body.parent_message or None,
            idempotency_key=idempotency_key,
        )
    )


@router.post(
    "/missed",
    tags=SESSIONS,
    response_model=SessionEnvelope,
    responses=errors(*AUTHENTICATED_WRITE, *JSON_BODY, *ACTION, *STARTED),
)
async def mark_missed(
    body: MarkMissed, principal: CurrentPrincipal, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> SessionEnvelope:
    """Mark a started, unlocked session missed; with notifyParent the parent gets the no-show notice
    (its date, and parentMessage when given; never the notes). Absent, notifyParent is off for a session
    that ended more than 48 hours ago."""
    return SessionEnvelope(
        session=await services.sessions.mark_missed(
            principal,
            body.session_id,
            notify_parent=body.notify_parent,
            notes=body.notes or None,
            parent_message=body.parent_message or None,
            idempotency_key=idempotency_key,
        )
    )


@router.patch(
    "",
    tags=SESSIONS,
    response_model=SessionEnvelope,
    responses=errors(*AUTHENTICATED_WRITE, *JSON_BODY, *ACTION, *MOVE, ErrorCode.TIME_IN_PAST),
)
async def reschedule_session(
    body: RescheduleSession, principal: CurrentPrincipal, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> SessionEnvelope:
    """Move a session to a new date and time, read in the coach's timezone; the calendar follows."""
    return SessionEnvelope(
        session=await services.sessions.reschedule(
            principal,
            body.session_id,
            new_date=body.new_date,
            new_time=body.new_time,
            reason=body.reason,
            idempotency_key=idempotency_key,
        )
    )


CANCEL_BODY = (
    "Preferred over the query string, which proxies write into their access logs with the reason in it. "
    "The query form (?sessionId=&reason=) still works; sent together, the two must agree."
)
QUERY_FORM = "The query form: prefer the body (a query string is logged by proxies)."


@router.delete(
    "",
    tags=SESSIONS,
    response_model=SessionEnvelope,
    responses=errors(
        *AUTHENTICATED_WRITE, *JSON_BODY, *ACTION, ErrorCode.PARENT_CONSENT_REQUIRED, ErrorCode.CANCELLATION_PENDING
    ),
)
async def cancel_session(
    principal: CurrentPrincipal,
    services: ServicesDep,
    body: Annotated[CancelSession | None, Body(description=CANCEL_BODY)] = None,
    session_id: Annotated[UUID | None, Query(alias="sessionId", description=QUERY_FORM)] = None,
    reason: Annotated[Reason | None, Query(description=QUERY_FORM)] = None,
    idempotency_key: IdempotencyKey = None,
) -> SessionEnvelope:
    """Admin cancellation. Coaches cancel through the parent-consent flow (request-cancel)."""
    session_id, reason = _cancel_target(body, session_id, reason)
    return SessionEnvelope(
        session=await services.sessions.cancel(principal, session_id, reason=reason, idempotency_key=idempotency_key)
    )


def _cancel_target(body: CancelSession | None, session_id: UUID | None, reason: str | None) -> tuple[UUID, str]:
    """The session and reason from the body, else from the query. Both forms at once must agree: a
    client that sent two different reasons cannot tell which one was recorded."""
    if body is None:
        missing = [("query", name) for name, value in (("sessionId", session_id), ("reason", reason)) if value is None]
        if missing:
            raise RequestValidationError(
                [
                    {"type": "missing", "loc": loc, "msg": "Field required (in the JSON body, preferred)"}
                    for loc in missing
                ]
            )
        assert session_id is not None and reason is not None
        return session_id, reason
    conflicts = [
        ("body", name)
        for name, queried, sent in (("sessionId", session_id, body.session_id), ("reason", reason, body.reason))
        if queried is not None and queried != sent
    ]
    if conflicts:
        raise RequestValidationError(
            [
                {"type": "conflict", "loc": loc, "msg": "differs from the query parameter; send it once, in the body"}
                for loc in conflicts
            ]
        )
    return body.session_id, body.reason


# ----- cancellation with the parent's consent ----------------------------------------------------------


@router.post(
    "/request-cancel",
    tags=CONSENT,
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SessionEnvelope,
    responses=errors(*AUTHENTICATED_WRITE, *JSON_BODY, *ACTION, *MOVE, ErrorCode.FORBIDDEN),
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
    "/withdraw-cancel",
    tags=CONSENT,
    response_model=SessionEnvelope,
    responses=errors(*AUTHENTICATED_WRITE, *JSON_BODY, *ACTION, ErrorCode.NO_CANCELLATION_PENDING),
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
    "/decide-cancel",
    tags=CONSENT,
    response_model=SessionEnvelope,
    responses=errors(*AUTHENTICATED_WRITE, *JSON_BODY, *ADMIN_ONLY, *ACTION, ErrorCode.NO_CANCELLATION_PENDING),
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
