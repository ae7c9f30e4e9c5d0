"""The coach's agenda: which sessions need the coach, and the rows the agenda answers.

Pure: the repository (``repositories/agenda.py``) selects the candidate rows in one query, and the
rule below says why each needs the coach, so the SQL only has to select a superset of them.
"""

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field

from coach_sessions.models import SessionRecord, SessionView
from coach_sessions.statuses import CalendarSyncStatus, CancellationStatus, SessionStatus


class Need(StrEnum):
    ENDED_UNRESOLVED = "ended_unresolved"  # pending, or scheduled whose end passed: complete or mark missed
    RESCHEDULED_UNRESOLVED = "rescheduled_unresolved"  # its new time is over, nobody resolved it
    AWAITING_PARENT = "awaiting_parent"  # a cancellation request the parent has not answered (see its expiry)
    CALENDAR_SYNC_FAILED = "calendar_sync_failed"  # the calendar does not hold the session as it is


# A session whose end passed in one of these is still open: nothing says whether it took place.
_UNRESOLVED_AFTER_END = {
    SessionStatus.SCHEDULED: Need.ENDED_UNRESOLVED,
    SessionStatus.PENDING: Need.ENDED_UNRESOLVED,
    SessionStatus.RESCHEDULED: Need.RESCHEDULED_UNRESOLVED,
}
# A failed sync matters while the session stands, or for a cancelled one whose event must still go.
_SYNC_MATTERS = frozenset({*_UNRESOLVED_AFTER_END, SessionStatus.CANCELLED})


def needs_of(record: SessionRecord, now: datetime) -> list[Need]:
    """Why the session needs its coach now (empty: it does not)."""
    needs = []
    status = SessionStatus(record.status)
    if status in _UNRESOLVED_AFTER_END and record.ends_at <= now:
        needs.append(_UNRESOLVED_AFTER_END[status])
    if record.cancellation_status == CancellationStatus.PENDING:
        needs.append(Need.AWAITING_PARENT)
    if record.calendar_sync_status == CalendarSyncStatus.FAILED and status in _SYNC_MATTERS:
        needs.append(Need.CALENDAR_SYNC_FAILED)
    return needs


class AgendaSession(SessionView):
    """A session as the agenda lists it: the session view, its child's name and why it needs the coach."""

    child_name: str
    needs: list[Need] = Field(default_factory=list)


class Agenda(BaseModel):
    """One coach's agenda; every date is in the coach's timezone."""

    coach_id: UUID
    coach_name: str  # the pages say who is signed in with it
    timezone: str
    today: date
    from_date: date
    to_date: date
    # Sessions that need the coach, whenever they are (oldest first): not bounded by the range.
    needs_you: list[AgendaSession]
    # Sessions starting on the coach's today, and those starting from from_date to to_date inclusive.
    today_sessions: list[AgendaSession]
    range_sessions: list[AgendaSession]
