"""The note's getAvailableSlots: a coach's free start times on a day, for one session's duration."""

import logging
from datetime import date, datetime, timedelta
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from api.services.access import visible_session
from api.services.sessions import Clock, utc_now
from coach_sessions.auth import Principal
from coach_sessions.models import Coach, SessionRecord
from coach_sessions.providers.calendar import BusyTimes, CalendarError
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.repositories.slots import coach_session_times
from coach_sessions.settings import Settings
from coach_sessions.slots import Busy, day_bounds, free_slots

log = logging.getLogger("coach_sessions.api")
# Further out than this nobody plans a reading session; it also keeps date arithmetic in range.
MAX_DAYS_AHEAD = 366


class Slot(BaseModel):
    start: datetime  # in the coach's timezone
    time: str  # HH:MM wall clock, what the reschedule form sends as newTime


class WorkingHours(BaseModel):
    """The coach's bookable day (WORKING_HOURS_START/END), HH:MM in the coach's timezone."""

    start: str
    end: str


class SlotList(BaseModel):
    session_id: UUID
    date: date
    timezone: str
    duration_minutes: int
    working_hours: WorkingHours
    calendar_checked: bool  # False when the calendar could not be read: only sessions were subtracted
    slots: list[Slot]


async def coach_busy(
    pool: asyncpg.Pool,
    calendar: BusyTimes,
    coach: Coach,
    lo: datetime,
    hi: datetime,
    *,
    except_session: UUID,
    ours: set[Busy] | None = None,
) -> tuple[list[Busy], list[Busy], bool]:
    """The coach's sessions overlapping [lo, hi), the calendar's other busy stretches (a stretch that is
    exactly one of our sessions, or one of ``ours``, is that session's own event), and whether the
    calendar could be read. Shared by the slot finder and the enrolment preview."""
    own = await coach_session_times(pool, coach.id, lo, hi, except_session=except_session)
    try:
        from_calendar = await calendar.busy_times(coach.calendar_id or coach.email, coach.email, lo, hi)
    except CalendarError as error:
        log.warning("free/busy unavailable", extra={"coach_id": str(coach.id), "error": type(error).__name__})
        return own, [], False
    mine = {*own, *(ours or set())}
    return own, [b for b in from_calendar if b not in mine], True


class SlotService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        sessions: SessionRepository,
        people: PeopleRepository,
        calendar: BusyTimes,
        settings: Settings,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._pool = pool
        self._sessions = sessions
        self._people = people
        self._calendar = calendar
        self._settings = settings
        self._clock = clock

    async def available(self, principal: Principal, session_id: UUID, day: date) -> SlotList:
        record = await visible_session(self._sessions, principal, session_id)
        now = self._clock()
        coach = await self._people.get_coach(record.coach_id)
        assert coach is not None  # FK
        if not 0 <= (day - now.date()).days <= MAX_DAYS_AHEAD:  # the past, or further out than anyone plans
            return self._answer(record, coach.timezone, day, checked=False, starts=[])
        lo, hi = day_bounds(day, coach.timezone)
        # The calendar also holds our own sessions' events (this session's among them): a stretch that is
        # exactly one of the session's times is the session itself, already counted (or moving) here.
        own, from_calendar, checked = await coach_busy(
            self._pool, self._calendar, coach, lo, hi, except_session=record.id,
            ours={(record.scheduled_at, record.ends_at)},
        )  # fmt: skip
        busy = own + from_calendar
        starts = free_slots(
            day=day,
            timezone=coach.timezone,
            work_start=self._settings.working_hours_start,
            work_end=self._settings.working_hours_end,
            duration=timedelta(minutes=record.duration_minutes),
            step=timedelta(minutes=self._settings.slot_step_minutes),
            busy=busy,
            now=now,
        )
        return self._answer(record, coach.timezone, day, checked=checked, starts=starts)

    def _answer(
        self, record: SessionRecord, timezone: str, day: date, *, checked: bool, starts: list[datetime]
    ) -> SlotList:
        return SlotList(
            session_id=record.id,
            date=day,
            timezone=timezone,
            duration_minutes=record.duration_minutes,
            working_hours=WorkingHours(
                start=self._settings.working_hours_start.strftime("%H:%M"),
                end=self._settings.working_hours_end.strftime("%H:%M"),
            ),
            calendar_checked=checked,
            slots=[Slot(start=s, time=s.strftime("%H:%M")) for s in starts],
        )
