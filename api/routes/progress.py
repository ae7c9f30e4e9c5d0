"""Assessments, homework and the child's progress data (coach of the child, or admin)."""

from uuid import UUID

from fastapi import APIRouter, status

from api.deps import CurrentPrincipal, IdempotencyKey, ServicesDep
from api.openapi import AUTHENTICATED, AUTHENTICATED_WRITE, JSON_BODY, errors
from api.schemas import CreateAssessment, CreateHomework
from coach_sessions.errors import ErrorCode
from coach_sessions.models import Assessment, Homework
from coach_sessions.progress import ProgressView

router = APIRouter(prefix="/api", tags=["progress"])


@router.post(
    "/assessments",
    status_code=status.HTTP_201_CREATED,
    response_model=Assessment,
    responses=errors(
        *AUTHENTICATED_WRITE,
        *JSON_BODY,
        ErrorCode.NOT_FOUND,
        ErrorCode.SESSION_NOT_FOUND,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
    ),
)
async def create_assessment(
    body: CreateAssessment, principal: CurrentPrincipal, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> Assessment:
    """Record a score (0 to 100) of one kind (default ``reading``); also written as an ``assessment`` learning event.

    With an `Idempotency-Key`, at most one assessment per caller and key: a retry answers it (201),
    the key with another body is 422 `idempotency_key_reused`."""
    return await services.progress.add_assessment(
        principal,
        child_id=body.child_id,
        session_id=body.session_id,
        kind=body.kind,
        score=body.score,
        assessed_at=body.assessed_at,
        idempotency_key=idempotency_key,
    )


@router.post(
    "/homework",
    status_code=status.HTTP_201_CREATED,
    response_model=Homework,
    responses=errors(
        *AUTHENTICATED_WRITE,
        *JSON_BODY,
        ErrorCode.NOT_FOUND,
        ErrorCode.SESSION_NOT_FOUND,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
    ),
)
async def create_homework(
    body: CreateHomework, principal: CurrentPrincipal, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> Homework:
    """Assign homework; also written as a ``homework_assigned`` learning event.

    With an `Idempotency-Key`, at most one homework per caller and key: a retry answers it (201),
    the key with another body is 422 `idempotency_key_reused`."""
    return await services.progress.add_homework(
        principal,
        child_id=body.child_id,
        session_id=body.session_id,
        title=body.title,
        due_date=body.due_date,
        idempotency_key=idempotency_key,
    )


@router.post(
    "/homework/{homework_id}/complete",
    response_model=Homework,
    responses=errors(*AUTHENTICATED_WRITE, ErrorCode.NOT_FOUND),
)
async def complete_homework(homework_id: UUID, principal: CurrentPrincipal, services: ServicesDep) -> Homework:
    """Mark homework done (``homework_completed`` event). Completing it again changes nothing."""
    return await services.progress.complete_homework(principal, homework_id)


@router.get(
    "/children/{child_id}/progress", response_model=ProgressView, responses=errors(*AUTHENTICATED, ErrorCode.NOT_FOUND)
)
async def child_progress(child_id: UUID, principal: CurrentPrincipal, services: ServicesDep) -> ProgressView:
    """Score series per kind, session completion (completed ÷ completed+missed+cancelled), homework
    completion (done ÷ assigned, and overdue), and the latest learning events."""
    return await services.progress.progress(principal, child_id)
