"""A parent's own way in: a family link (``X-Family-Link``) reaches the family's children, each
child's record as a parent may see it, and the child's erasure (docs/security.md, "Family links")."""

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import FamilyParent, ServicesDep
from api.openapi import AUTHENTICATED, errors
from api.schemas import ChildErasureState
from coach_sessions.errors import ErrorCode

router = APIRouter(prefix="/api/family", tags=["family"])


class FamilyChild(BaseModel):
    id: UUID
    name: str
    age: int
    erasure_requested_at: datetime | None
    erased_at: datetime | None


class FamilyChildren(BaseModel):
    children: list[FamilyChild]


class FamilyExport(BaseModel):
    """The child's record as the family may see it: what the coach chose to send them, and how many items
    of what the coach keeps were left out (an admin answers a formal access request with all of it)."""

    exported_at: datetime
    child: dict[str, Any]
    parent: dict[str, Any]
    enrollments: list[dict[str, Any]]
    sessions: list[dict[str, Any]] = Field(description="Without the coach's private notes.")
    homework: list[dict[str, Any]]
    messages_sent: list[dict[str, Any]] = Field(description="The WhatsApp messages sent to the parent.")
    messages_received: list[dict[str, Any]] = Field(description="The parent's WhatsApp replies.")
    withheld: dict[str, int] = Field(
        description="How many items the coach keeps for the programme: coach_notes, learning_events, "
        "assessments, briefs, messages_to_the_coach."
    )


@router.get("/children", response_model=FamilyChildren, responses=errors(*AUTHENTICATED))
async def family_children(parent_id: FamilyParent, services: ServicesDep) -> FamilyChildren:
    """The family's children, with where each one's erasure stands."""
    return FamilyChildren.model_validate({"children": await services.family.children(parent_id)})


@router.get(
    "/children/{child_id}/export", response_model=FamilyExport, responses=errors(*AUTHENTICATED, ErrorCode.NOT_FOUND)
)
async def family_export(child_id: UUID, parent_id: FamilyParent, services: ServicesDep) -> FamilyExport:
    """A parent's access request: the child's record as JSON (another family's child: 404, as missing)."""
    return FamilyExport.model_validate(await services.family.export_child(parent_id, child_id))


@router.delete(
    "/children/{child_id}",
    status_code=202,
    response_model=ChildErasureState,
    responses={
        200: {"description": "Asked for before: the same erasure, done or under way.", "model": ChildErasureState},
        **errors(*AUTHENTICATED, ErrorCode.NOT_FOUND),
    },
)
async def family_erase_child(
    child_id: UUID, parent_id: FamilyParent, services: ServicesDep, response: Response
) -> ChildErasureState:
    """A parent's erasure request for their child: the same erasure as an admin's (202, then 200 with the
    same record on every later call; ``done`` once completed)."""
    erasure, created = await services.family.erase_child(parent_id, child_id)
    if not created:
        response.status_code = 200
    return ChildErasureState(**erasure.model_dump(), status="under_way" if erasure.completed_at is None else "done")
