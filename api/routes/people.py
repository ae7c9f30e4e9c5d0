"""Admin registration of coaches, parents and children; a coach's children."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.deps import AdminPrincipal, CurrentPrincipal, ServicesDep
from api.openapi import ADMIN_ONLY, AUTHENTICATED, AUTHENTICATED_WRITE, JSON_BODY, errors
from api.schemas import (
    ChildErasureState,
    ChildList,
    CoachList,
    CreateChild,
    CreateCoach,
    CreateParent,
    FamilyLinkIssued,
)
from coach_sessions.errors import ErrorCode
from coach_sessions.models import Child, Coach, Parent

router = APIRouter(prefix="/api", tags=["people"])
ADMIN_WRITE = (*AUTHENTICATED_WRITE, *JSON_BODY, *ADMIN_ONLY)


@router.post("/coaches", status_code=201, response_model=Coach, responses=errors(*ADMIN_WRITE, ErrorCode.CONFLICT))
async def create_coach(body: CreateCoach, _: AdminPrincipal, services: ServicesDep) -> Coach:
    return await services.people.create_coach(
        name=body.name,
        email=body.email,
        phone=body.phone,
        calendar_id=body.calendar_id,
        timezone=body.timezone,
    )


@router.post("/parents", status_code=201, response_model=Parent, responses=errors(*ADMIN_WRITE, ErrorCode.CONFLICT))
async def create_parent(body: CreateParent, _: AdminPrincipal, services: ServicesDep) -> Parent:
    return await services.people.create_parent(
        name=body.name, phone=body.phone, email=body.email, timezone=body.timezone
    )


@router.post("/children", status_code=201, response_model=Child, responses=errors(*ADMIN_WRITE, ErrorCode.NOT_FOUND))
async def create_child(body: CreateChild, _: AdminPrincipal, services: ServicesDep) -> Child:
    return await services.people.create_child(
        name=body.name, age=body.age, parent_id=body.parent_id, coach_id=body.coach_id
    )


@router.get("/coach/children", response_model=ChildList, responses=errors(*AUTHENTICATED, ErrorCode.NOT_FOUND))
async def list_children(
    principal: CurrentPrincipal,
    services: ServicesDep,
    coach_id: Annotated[UUID | None, Query(alias="coachId")] = None,
) -> ChildList:
    return ChildList(children=await services.people.list_children(principal, coach_id))


@router.get("/coaches", response_model=CoachList, responses=errors(*AUTHENTICATED))
async def list_coaches(principal: CurrentPrincipal, services: ServicesDep) -> CoachList:
    """Admin: every coach. Coach: only themselves (the pages read the coach's timezone here)."""
    return CoachList(coaches=await services.people.list_coaches(principal))


class ChildExport(BaseModel):
    """Everything held about a child, each row as stored (docs/security.md, "Export")."""

    exported_at: datetime
    child: dict[str, Any]
    parent: dict[str, Any]
    enrollments: list[dict[str, Any]]
    sessions: list[dict[str, Any]] = Field(description="With the coach's private notes and the parent's messages.")
    learning_events: list[dict[str, Any]]
    assessments: list[dict[str, Any]]
    homework: list[dict[str, Any]]
    briefs: list[dict[str, Any]]
    messages_sent: list[dict[str, Any]] = Field(description="WhatsApp messages about the child, to parent or coach.")
    messages_received: list[dict[str, Any]] = Field(description="The parent's WhatsApp replies.")


@router.get(
    "/children/{child_id}/export",
    response_model=ChildExport,
    responses=errors(*AUTHENTICATED, *ADMIN_ONLY, ErrorCode.NOT_FOUND),
)
async def export_child(child_id: UUID, _: AdminPrincipal, services: ServicesDep) -> ChildExport:
    """Admin: the child's whole record as JSON, for a parent's access request (DPDP Act / GDPR)."""
    return ChildExport.model_validate(await services.people.export_child(child_id))


@router.delete(
    "/children/{child_id}",
    status_code=202,
    response_model=ChildErasureState,
    responses={
        200: {
            "description": "Asked for before: the same erasure, done or under way (no second erasure).",
            "model": ChildErasureState,
        },
        **errors(*AUTHENTICATED_WRITE, *ADMIN_ONLY, ErrorCode.NOT_FOUND),
    },
)
async def erase_child(
    child_id: UUID, principal: AdminPrincipal, services: ServicesDep, response: Response
) -> ChildErasureState:
    """Admin: erase the child's personal data (a parent's erasure request). 202: the erasure is under
    way; poll with the same call, which answers 200 with the same record, ``done`` once completed."""
    erasure, created = await services.people.erase_child(principal.id, child_id)
    if not created:
        response.status_code = 200
    return ChildErasureState(**erasure.model_dump(), status="under_way" if erasure.completed_at is None else "done")


@router.post(
    "/parents/{parent_id}/family-link",
    response_model=FamilyLinkIssued,
    responses=errors(*AUTHENTICATED_WRITE, *ADMIN_ONLY, ErrorCode.NOT_FOUND),
)
async def issue_family_link(parent_id: UUID, _: AdminPrincipal, services: ServicesDep) -> FamilyLinkIssued:
    """Admin: a link for the family to send them (docs/security.md, "Family links"). Older links keep
    working until they expire; to stop them, replace them."""
    link, expires_at = await services.family.issue_link(parent_id)
    return FamilyLinkIssued(link=link, expires_at=expires_at)


@router.post(
    "/parents/{parent_id}/family-link/replace",
    response_model=FamilyLinkIssued,
    responses=errors(*AUTHENTICATED_WRITE, *ADMIN_ONLY, ErrorCode.NOT_FOUND),
)
async def replace_family_links(parent_id: UUID, _: AdminPrincipal, services: ServicesDep) -> FamilyLinkIssued:
    """Admin: every link the family was given stops working (a lost phone); the answer is a new one."""
    link, expires_at = await services.family.replace_links(parent_id)
    return FamilyLinkIssued(link=link, expires_at=expires_at)
