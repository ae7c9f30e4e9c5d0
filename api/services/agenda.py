"""The coach's agenda: what needs them, today, and a range of days, from one query."""

from datetime import date, datetime, timedelta
from uuid import UUID

from api.services.sessions import Clock, utc_now
from coach_sessions.agenda import Agenda, AgendaSession, needs_of
from coach_sessions.auth import Principal
from coach_sessions.errors import DomainError, ErrorCode, NotFound
from coach_sessions.models import SessionRecord, SessionView
from coach_sessions.repositories.agenda import AgendaRepository

# A page shows a week, or a month at most: a bound keeps one call's answer (and query) small.
MAX_RANGE_DAYS = 31


class AgendaService:
    def __init__(self, agenda: AgendaRepository, *, minimum_notice: timedelta, clock: Clock = utc_now) -> None:
        self._agenda = agenda
        self._minimum_notice = minimum_notice
        self._clock = clock

    async def read(
        self, principal: Principal, coach_id: UUID | None, from_date: date | None, to_date: date | None
    ) -> Agenda:
        """A coach's own agenda (a coachId other than theirs: the same 404 as no such coach); an admin
        names the coach, whose timezone gives the days."""
        if principal.is_admin and coach_id is None:
            raise _invalid("coachId", "an admin names the coach whose agenda to read")
        if not principal.is_admin and coach_id not in (None, principal.id):
            raise NotFound("coach", ErrorCode.NOT_FOUND)
        _check_range(from_date, to_date)
        now = self._clock()
        rows = await self._agenda.read(coach_id or principal.id, from_date, to_date, now)
        if rows is None:
            raise NotFound("coach", ErrorCode.NOT_FOUND)
        listed = [self._row(principal, record, child_name, now) for record, child_name in rows.sessions]
        return Agenda(
            coach_id=coach_id or principal.id,
            coach_name=rows.coach_name,
            timezone=rows.timezone,
            today=rows.today,
            from_date=rows.from_date,
            to_date=rows.to_date,
            needs_you=[s for s in listed if s.needs],
            today_sessions=[s for s in listed if rows.today_start <= s.scheduled_at < rows.today_end],
            range_sessions=[s for s in listed if rows.range_start <= s.scheduled_at < rows.range_end],
        )

    def _row(self, principal: Principal, record: SessionRecord, child_name: str, now: datetime) -> AgendaSession:
        """The session view (its buttons for this principal), its child's name and its needs, as of ``now``."""
        view = SessionView.of(record, now, self._minimum_notice, role=principal.role.value)
        # Constructed, like SessionView itself: every field is validated already.
        return AgendaSession.model_construct(**dict(view), child_name=child_name, needs=needs_of(record, now))


def _check_range(from_date: date | None, to_date: date | None) -> None:
    if (from_date is None) != (to_date is None):
        raise _invalid("from" if from_date is None else "to", "give both from and to, or neither (this week)")
    if from_date is None or to_date is None:
        return
    if to_date < from_date:
        raise _invalid("to", "must not be before from")
    if (to_date - from_date).days + 1 > MAX_RANGE_DAYS:
        raise _invalid("to", f"the range is at most {MAX_RANGE_DAYS} days")


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, f"{field}: {message}", fields=[{"field": field, "message": message}])
