"""GET /api/sessions/available-slots: the note's getAvailableSlots, for the reschedule modal."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import CurrentPrincipal, ServicesDep
from api.openapi import AUTHENTICATED, errors
from api.schemas import Day
from api.services.slots import SlotList
from coach_sessions.errors import ErrorCode

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


@router.get("/available-slots", response_model=SlotList, responses=errors(*AUTHENTICATED, ErrorCode.SESSION_NOT_FOUND))
async def available_slots(
    principal: CurrentPrincipal,
    services: ServicesDep,
    session_id: Annotated[UUID, Query(alias="sessionId")],
    day: Annotated[Day, Query(alias="date", description="YYYY-MM-DD, read in the coach's timezone")],
) -> SlotList:
    """The coach's free start times that day for this session's duration: inside working hours
    (WORKING_HOURS_START/END, coach's timezone, every SLOT_STEP_MINUTES), after now, minus the coach's
    other sessions and the busy times of their calendar (Google freeBusy, or the local events table).
    ``calendar_checked`` is false when the calendar could not be read. A day in the past or more than
    366 days ahead has no slots. Rescheduling accepts any future
    time; these are suggestions."""
    return await services.slots.available(principal, session_id, day)
