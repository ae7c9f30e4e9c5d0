"""The ops desk's API (admin only): the queue of what needs a human, the pending cancellation requests
to decide, the audit of actions taken, and the actions (docs/operations.md, "The ops queue")."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import AdminPrincipal, ServicesDep
from api.openapi import ADMIN_ONLY, AUTHENTICATED, AUTHENTICATED_WRITE, JSON_BODY, errors
from api.schemas import OpsActionRequest
from coach_sessions.errors import ErrorCode

router = APIRouter(prefix="/api/ops", tags=["ops"])
ACT = (*AUTHENTICATED_WRITE, *JSON_BODY, *ADMIN_ONLY, ErrorCode.NOT_FOUND, ErrorCode.ROW_CHANGED)


class SessionContext(BaseModel):
    session_id: UUID | None
    session_number: int | None
    scheduled_at: datetime | None
    session_status: str | None
    child_id: UUID | None
    child_name: str | None
    coach_id: UUID | None
    coach_name: str | None


class StuckMessage(SessionContext):
    id: UUID
    status: Literal["in_doubt", "failed"]
    template_name: str
    recipient_role: Literal["parent", "coach"]
    attempts: int
    last_error: str | None = Field(description="The provider's error, or why the attempt is in doubt.")
    provider: str | None
    created_at: datetime
    updated_at: datetime = Field(description="Send it back as seenUpdatedAt with an action.")


class FailedCalendarSync(SessionContext):
    calendar_sync_error: str | None
    updated_at: datetime


class PendingTooLong(SessionContext):
    updated_at: datetime


class PendingCancellation(SessionContext):
    cancellation_requested_at: datetime
    cancellation_expires_at: datetime = Field(description="When it approves itself if nobody decides.")
    cancellation_reason: str | None
    parent_last_answer: Literal["approve", "reschedule", "call_me"] | None
    updated_at: datetime


class FailedWorkflow(BaseModel):
    workflow_id: str
    run_id: str
    workflow_type: str
    status: Literal["failed", "timed_out", "unknown"]
    close_time: datetime | None


class RetryingActivity(BaseModel):
    workflow_id: str
    activity_id: str
    activity_type: str
    attempt: int = Field(description="The latest failed attempt.")
    last_error: str = Field(description="Its error's type (never its message).")
    first_failed_at: datetime
    updated_at: datetime


class OpsQueue(BaseModel):
    retrying_activities: list[RetryingActivity] = Field(
        description="Activities failed 3 attempts or more and still retrying (last day), most attempts first."
    )
    failed_workflows: list[FailedWorkflow] = Field(
        description="Failed or timed out in the last 7 days, newest first (at most 50): open them in the Temporal UI."
    )
    workflows_checked: bool = Field(
        description="False: Temporal could not list workflows now; failed_workflows is empty."
    )
    messages: list[StuckMessage] = Field(description="in_doubt or failed: Resend, Mark delivered or Drop.")
    calendar_syncs: list[FailedCalendarSync] = Field(description="A failed calendar sync: Retry now.")
    sessions_pending: list[PendingTooLong] = Field(
        description="Started over a day ago, still unresolved: complete or mark missed."
    )
    consents_expiring: list[PendingCancellation] = Field(
        description="Pending requests that approve themselves within 12 h: approve or reject (decide-cancel)."
    )


class PendingCancellations(BaseModel):
    requests: list[PendingCancellation]


class OpsAction(BaseModel):
    id: UUID
    admin_id: UUID
    channel: Literal["desk", "cli"]
    action: Literal["resend", "mark_delivered", "drop", "retry_calendar_sync"]
    target_kind: Literal["message", "session"]
    target_id: UUID
    seen_updated_at: datetime
    from_state: str
    to_state: str
    note: str | None
    created_at: datetime


class CoachWeek(BaseModel):
    coach_id: UUID
    coach_name: str
    timezone: str
    week_start: date = Field(description="This week's Monday in the coach's timezone.")
    scheduled: int
    completed: int
    missed: int
    pending: int = Field(description="Pending, or rescheduled and not yet resolved.")
    cancelled: int
    completed_4w: int
    missed_4w: int
    completion_rate_4w: float | None = Field(
        description="Completed ÷ (completed + missed) over the last four weeks; cancellations do not count."
    )


class ProgrammeOverview(BaseModel):
    coaches: list[CoachWeek]


class OpsActions(BaseModel):
    actions: list[OpsAction]


class OpsActionDone(BaseModel):
    action: OpsAction
    replayed: bool = Field(description="True: the same request was made before; nothing changed now.")
    current_state: str | None
    current_updated_at: datetime | None


@router.get("/queue", response_model=OpsQueue, responses=errors(*AUTHENTICATED, *ADMIN_ONLY))
async def ops_queue(_: AdminPrincipal, services: ServicesDep) -> OpsQueue:
    """What needs a human now, each kind oldest (or soonest due) first, at most 200 of each."""
    return OpsQueue.model_validate(await services.ops_desk.queue())


@router.get(
    "/cancellation-requests", response_model=PendingCancellations, responses=errors(*AUTHENTICATED, *ADMIN_ONLY)
)
async def pending_cancellation_requests(_: AdminPrincipal, services: ServicesDep) -> PendingCancellations:
    """Every pending cancellation request, soonest expiry first, with the parent's last answer."""
    return PendingCancellations(requests=await services.ops_desk.pending_cancellations())  # type: ignore[arg-type]


@router.get("/overview", response_model=ProgrammeOverview, responses=errors(*AUTHENTICATED, *ADMIN_ONLY))
async def programme_overview(_: AdminPrincipal, services: ServicesDep) -> ProgrammeOverview:
    """This week by coach (each in their timezone) and each coach's four-week completion rate."""
    return ProgrammeOverview(coaches=await services.ops_desk.overview())  # type: ignore[arg-type]


@router.get("/actions", response_model=OpsActions, responses=errors(*AUTHENTICATED, *ADMIN_ONLY))
async def ops_actions(
    _: AdminPrincipal, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> OpsActions:
    """The desk's audit: who did what to which row, from which state, newest first."""
    return OpsActions(actions=await services.ops_desk.recent_actions(limit))  # type: ignore[arg-type]


async def _message_action(
    message_id: UUID, action: Literal["resend", "mark_delivered", "drop"], body: OpsActionRequest,
    principal: AdminPrincipal, services: ServicesDep,
) -> OpsActionDone:  # fmt: skip
    outcome, audit = await services.ops_desk.act_on_message(
        principal.id, message_id, action, seen_updated_at=body.seen_updated_at, note=body.note
    )
    return OpsActionDone(
        action=OpsAction.model_validate(audit),
        replayed=not outcome.created,
        current_state=outcome.current_state,
        current_updated_at=outcome.current_updated_at,
    )


@router.post("/messages/{message_id}/resend", response_model=OpsActionDone, responses=errors(*ACT))
async def resend_message(
    message_id: UUID, body: OpsActionRequest, principal: AdminPrincipal, services: ServicesDep
) -> OpsActionDone:
    """Queue an in_doubt or failed message again and deliver it: a deliberate decision, since an in_doubt
    message may be on the phone already (the parent may get it twice)."""
    return await _message_action(message_id, "resend", body, principal, services)


@router.post("/messages/{message_id}/mark-delivered", response_model=OpsActionDone, responses=errors(*ACT))
async def mark_message_delivered(
    message_id: UUID, body: OpsActionRequest, principal: AdminPrincipal, services: ServicesDep
) -> OpsActionDone:
    """The message reached the person (they said so, or it was sent by hand): sent, nothing is sent now."""
    return await _message_action(message_id, "mark_delivered", body, principal, services)


@router.post("/messages/{message_id}/drop", response_model=OpsActionDone, responses=errors(*ACT))
async def drop_message(
    message_id: UUID, body: OpsActionRequest, principal: AdminPrincipal, services: ServicesDep
) -> OpsActionDone:
    """Do not send it (it no longer matters): dropped, for good."""
    return await _message_action(message_id, "drop", body, principal, services)


@router.post("/sessions/{session_id}/retry-calendar-sync", response_model=OpsActionDone, responses=errors(*ACT))
async def retry_calendar_sync(
    session_id: UUID, body: OpsActionRequest, principal: AdminPrincipal, services: ServicesDep
) -> OpsActionDone:
    """Sync the session's calendar event again now (its failed sync stays listed until one succeeds)."""
    outcome, audit = await services.ops_desk.retry_calendar_sync(
        principal.id, session_id, seen_updated_at=body.seen_updated_at, note=body.note
    )
    return OpsActionDone(
        action=OpsAction.model_validate(audit),
        replayed=not outcome.created,
        current_state=outcome.current_state,
        current_updated_at=outcome.current_updated_at,
    )
