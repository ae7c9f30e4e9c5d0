"""The desk's people (admin only): list parents, edit coaches, parents and children, deactivate a coach
(no new enrolments) or a parent (no messages). Registering them is api/routes/people.py's."""

from uuid import UUID

from fastapi import APIRouter, Response

from api.deps import AdminPrincipal, ServicesDep
from api.openapi import ADMIN_ONLY, AUTHENTICATED, AUTHENTICATED_WRITE, JSON_BODY, errors
from api.schemas import EditChild, EditCoach, EditParent, ParentList, ReassignChild, ReassignmentState
from coach_sessions.errors import ErrorCode
from coach_sessions.models import Child, Coach, Parent

router = APIRouter(prefix="/api", tags=["people"])
EDIT = (*AUTHENTICATED_WRITE, *JSON_BODY, *ADMIN_ONLY, ErrorCode.NOT_FOUND)
DEACTIVATE = (*AUTHENTICATED_WRITE, *ADMIN_ONLY, ErrorCode.NOT_FOUND)


@router.get("/parents", response_model=ParentList, responses=errors(*AUTHENTICATED, *ADMIN_ONLY))
async def list_parents(_: AdminPrincipal, services: ServicesDep) -> ParentList:
    return ParentList(parents=await services.people.list_parents())


@router.patch("/coaches/{coach_id}", response_model=Coach, responses=errors(*EDIT, ErrorCode.CONFLICT))
async def edit_coach(coach_id: UUID, body: EditCoach, _: AdminPrincipal, services: ServicesDep) -> Coach:
    """Only the fields sent change; another coach's email is 409."""
    return await services.people.edit_coach(coach_id, body.changes())


@router.patch("/parents/{parent_id}", response_model=Parent, responses=errors(*EDIT, ErrorCode.CONFLICT))
async def edit_parent(parent_id: UUID, body: EditParent, _: AdminPrincipal, services: ServicesDep) -> Parent:
    """Only the fields sent change; another parent's phone is 409."""
    return await services.people.edit_parent(parent_id, body.changes())


@router.patch("/children/{child_id}", response_model=Child, responses=errors(*EDIT))
async def edit_child(child_id: UUID, body: EditChild, _: AdminPrincipal, services: ServicesDep) -> Child:
    return await services.people.edit_child(child_id, body.changes())


@router.post("/coaches/{coach_id}/deactivate", response_model=Coach, responses=errors(*DEACTIVATE))
async def deactivate_coach(coach_id: UUID, _: AdminPrincipal, services: ServicesDep) -> Coach:
    """No new enrolments with this coach (409); sessions already planned and the record stay. Again: the
    same answer, the first time kept."""
    return await services.people.deactivate_coach(coach_id)


@router.post("/parents/{parent_id}/deactivate", response_model=Parent, responses=errors(*DEACTIVATE))
async def deactivate_parent(parent_id: UUID, _: AdminPrincipal, services: ServicesDep) -> Parent:
    """No more WhatsApp messages to this parent: a queued one is dropped when its delivery comes."""
    return await services.people.deactivate_parent(parent_id)


@router.post(
    "/children/{child_id}/reassign",
    status_code=202,
    response_model=ReassignmentState,
    responses={
        200: {"description": "Asked for before: the same move, under way or done.", "model": ReassignmentState},
        **errors(*EDIT, ErrorCode.CONFLICT),
    },
)
async def reassign_child(
    child_id: UUID, body: ReassignChild, admin: AdminPrincipal, services: ServicesDep, response: Response
) -> ReassignmentState:
    """Move a child to another coach (the coach leaves, or is ill for weeks): the sessions still to come
    move, their calendar events move to the new coach's calendar with new Meet links, the parent is told
    once, the old coach loses access; resolved sessions keep their coach. 202: under way; the same request
    again answers 200 with the same move. Another move under way, the same coach, a deactivated coach or
    an enrolment with the new coach already: 409."""
    moved = await services.reassignments.reassign(admin.id, child_id, body.coach_id, body.reason)
    if not moved.created:
        response.status_code = 200
    state = {k: v for k, v in vars(moved).items() if k != "created"}
    return ReassignmentState(**state, status="done" if moved.completed_at else "under_way")
