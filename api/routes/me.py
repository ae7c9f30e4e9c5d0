"""Who am I: the caller as the API sees them, whichever way they signed in (a client's first call)."""

from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CurrentPrincipal
from api.openapi import AUTHENTICATED, errors
from coach_sessions.statuses import Role

router = APIRouter(prefix="/api", tags=["people"])


class Me(BaseModel):
    id: UUID = Field(description="The coach's or admin's id.")
    role: Role
    name: str


@router.get("/me", response_model=Me, responses=errors(*AUTHENTICATED))
async def who_am_i(principal: CurrentPrincipal) -> Me:
    return Me(id=principal.id, role=principal.role, name=principal.name)
