"""GET /api/coach/agenda: the coach's landing view in one call (needs you, today, a range of days)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import CurrentPrincipal, ServicesDep
from api.openapi import AUTHENTICATED, errors
from api.schemas import Day
from coach_sessions.agenda import Agenda
from coach_sessions.errors import ErrorCode

router = APIRouter(prefix="/api/coach", tags=["agenda"])


@router.get("/agenda", response_model=Agenda, responses=errors(*AUTHENTICATED, ErrorCode.NOT_FOUND))
async def read_agenda(
    principal: CurrentPrincipal,
    services: ServicesDep,
    from_date: Annotated[Day | None, Query(alias="from", description="YYYY-MM-DD, the coach's timezone")] = None,
    to_date: Annotated[Day | None, Query(alias="to", description="YYYY-MM-DD, inclusive; at most 31 days")] = None,
    coach_id: Annotated[UUID | None, Query(alias="coachId", description="Required for an admin")] = None,
) -> Agenda:
    """The coach's sessions that need them (`needs_you`: ended unresolved, rescheduled and past unresolved,
    a cancellation awaiting the parent, a failed calendar sync; whenever they are), those of the coach's
    today, and those starting from `from` to `to` (both or neither; neither: today and the six days
    after). Each row is a session with its buttons (`can_*`), `child_name` and `needs`. A coach reads
    their own (another coach's id: 404, as for no such coach); an admin gives `coachId`."""
    return await services.agenda.read(principal, coach_id, from_date, to_date)
