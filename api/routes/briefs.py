"""The coach's pre-session brief, and adding observations to a child's learning record."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from api.deps import CurrentPrincipal, IdempotencyKey, ServicesDep
from api.openapi import AUTHENTICATED, AUTHENTICATED_WRITE, JSON_BODY, errors
from api.schemas import CreateLearningEvent
from coach_sessions.contracts import SessionBrief
from coach_sessions.errors import ErrorCode
from coach_sessions.repositories.learning_events import LearningEventRecord

router = APIRouter(prefix="/api", tags=["brief"])


@router.get(
    "/coach/session-prep",
    response_model=SessionBrief,
    responses=errors(*AUTHENTICATED, ErrorCode.SESSION_NOT_FOUND, ErrorCode.BRIEF_UNAVAILABLE),
)
async def session_prep(
    principal: CurrentPrincipal,
    services: ServicesDep,
    session_id: Annotated[UUID, Query(alias="sessionId")],
) -> SessionBrief:
    """The session's brief: `challenges`, `motivators`, `recommended_activities` (1-5 items each) and
    `session_focus`, every item `{"text", "event_ids"}` citing events listed in `sources`.

    Served from storage while no newer learning event exists for the child; otherwise generated now
    (concurrent requests share one generation). If generation fails the last stored brief answers
    with `"stale": true`; with none stored, 503 `brief_unavailable`. Coach of the session or admin.
    """
    return await services.briefs.session_prep(principal, session_id)


@router.post(
    "/learning-events",
    status_code=status.HTTP_201_CREATED,
    response_model=LearningEventRecord,
    responses=errors(*AUTHENTICATED_WRITE, *JSON_BODY, ErrorCode.NOT_FOUND, ErrorCode.IDEMPOTENCY_KEY_REUSED),
)
async def add_learning_event(
    body: CreateLearningEvent,
    principal: CurrentPrincipal,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> LearningEventRecord:
    """Add an observation to a child's learning record (the child's coach or an admin).

    `content` is the text the brief searches: by full text at once, by meaning once the worker has
    embedded it (seconds). A `sessionId` must be one of this child's sessions. With an
    `Idempotency-Key`, at most one event per caller and key: a retry answers it (201), the key with
    another body is 422 `idempotency_key_reused`.
    """
    return await services.learning_events.add(
        principal,
        child_id=body.child_id,
        session_id=body.session_id,
        event_type=body.event_type.value,
        event_data=body.event_data,
        content=body.content,
        idempotency_key=idempotency_key,
    )
