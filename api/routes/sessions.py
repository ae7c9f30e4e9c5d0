"""/api/sessions: read a child's sessions or one session; complete, miss, reschedule, cancel."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import CurrentPrincipal, IdempotencyKey, ServicesDep
from api.openapi import ACTION, AUTHENTICATED, JSON_BODY, errors
from api.schemas import CompleteSession, MarkMissed, Reason, RescheduleSession, SessionEnvelope, SessionList
from coach_sessions.errors import DomainError, ErrorCode

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


@router.get("", response_model=SessionEnvelope | SessionList, responses=errors(*AUTHENTICATED, 404))
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


@router.post("/complete", response_model=SessionEnvelope, responses=errors(*AUTHENTICATED, *JSON_BODY, *ACTION))
async def complete_session(
    body: CompleteSession, principal: CurrentPrincipal, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> SessionEnvelope:
    """Mark a started, unlocked session completed (learning event + session summary to the parent)."""
    return SessionEnvelope(
        session=await services.sessions.complete(
            principal, body.session_id, notes=body.notes or None, idempotency_key=idempotency_key
        )
    )


@router.post("/missed", response_model=SessionEnvelope, responses=errors(*AUTHENTICATED, *JSON_BODY, *ACTION))
async def mark_missed(
    body: MarkMissed, principal: CurrentPrincipal, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> SessionEnvelope:
    """Mark a started, unlocked session missed; with notifyParent the parent gets the no-show notice."""
    return SessionEnvelope(
        session=await services.sessions.mark_missed(
            principal,
            body.session_id,
            notify_parent=body.notify_parent,
            notes=body.notes or None,
            idempotency_key=idempotency_key,
        )
    )


@router.patch("", response_model=SessionEnvelope, responses=errors(*AUTHENTICATED, *JSON_BODY, *ACTION))
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


@router.delete("", response_model=SessionEnvelope, responses=errors(*AUTHENTICATED, 403, 404, 409))
async def cancel_session(
    principal: CurrentPrincipal,
    services: ServicesDep,
    session_id: Annotated[UUID, Query(alias="sessionId")],
    reason: Annotated[Reason, Query()],
    idempotency_key: IdempotencyKey = None,
) -> SessionEnvelope:
    """Admin cancellation. Coaches cancel through the parent-consent flow (request-cancel)."""
    return SessionEnvelope(
        session=await services.sessions.cancel(principal, session_id, reason=reason, idempotency_key=idempotency_key)
    )
