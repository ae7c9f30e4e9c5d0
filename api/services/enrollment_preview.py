"""An enrolment's preview (the desk, before anything is created): every session's date and time in the
coach's timezone, each flagged where it clashes with the coach's other sessions or busy calendar time,
falls outside working hours, or lies in the past (it would be created pending)."""

from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import asyncpg
from pydantic import BaseModel, Field

from api.services.sessions import Clock, utc_now
from api.services.slots import coach_busy
from coach_sessions.errors import ErrorCode, NotFound
from coach_sessions.models import EnrollmentPlan
from coach_sessions.providers.calendar import BusyTimes
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.scheduling import WEEKDAYS, session_start_times
from coach_sessions.settings import Settings

Clash = Literal["coach_session", "calendar_busy", "outside_working_hours", "in_the_past"]
_NO_SESSION = UUID(int=0)


class PreviewSession(BaseModel):
    session_number: int
    scheduled_at: datetime
    local_date: str = Field(description="YYYY-MM-DD in the coach's timezone.")
    local_time: str = Field(description="HH:MM in the coach's timezone.")
    weekday: str
    clashes: list[Clash]


class EnrollmentPreview(BaseModel):
    coach_id: UUID
    timezone: str
    calendar_checked: bool = Field(description="False: the coach's calendar could not be read; busy times unknown.")
    sessions: list[PreviewSession]


def _overlaps(start: datetime, end: datetime, spans: list[tuple[datetime, datetime]]) -> bool:
    return any(a < end and start < b for a, b in spans)


class EnrollmentPreviewService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        people: PeopleRepository,
        calendar: BusyTimes,
        settings: Settings,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._pool = pool
        self._people = people
        self._calendar = calendar
        self._settings = settings
        self._clock = clock

    async def preview(self, plan: EnrollmentPlan) -> EnrollmentPreview:
        coach = await self._people.get_coach(plan.coach_id)
        if coach is None or await self._people.get_child(plan.child_id) is None:
            raise NotFound("child or coach", ErrorCode.NOT_FOUND)
        starts = session_start_times(
            start_date=plan.start_date,
            session_time=plan.session_time,
            weekdays=plan.weekdays,
            count=plan.session_count,
            timezone=coach.timezone,
        )
        length = timedelta(minutes=plan.duration_minutes)
        lo, hi = starts[0], starts[-1] + length
        own, busy, checked = await coach_busy(self._pool, self._calendar, coach, lo, hi, except_session=_NO_SESSION)
        now, work_start, work_end = self._clock(), self._settings.working_hours_start, self._settings.working_hours_end
        sessions = []
        for number, start in enumerate(starts, start=1):
            end = start + length
            clashes: list[Clash] = []
            if _overlaps(start, end, own):
                clashes.append("coach_session")
            if _overlaps(start, end, busy):
                clashes.append("calendar_busy")
            local_end = end.astimezone(start.tzinfo)
            if start.time() < work_start or (local_end.time() > work_end or local_end.date() != start.date()):
                clashes.append("outside_working_hours")
            if start < now:
                clashes.append("in_the_past")
            sessions.append(
                PreviewSession(
                    session_number=number,
                    scheduled_at=start,
                    local_date=start.date().isoformat(),
                    local_time=start.strftime("%H:%M"),
                    weekday=WEEKDAYS[start.weekday()],
                    clashes=clashes,
                )
            )
        return EnrollmentPreview(
            coach_id=coach.id, timezone=coach.timezone, calendar_checked=checked, sessions=sessions
        )
