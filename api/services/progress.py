"""Assessments, homework and the child's progress dashboard (coach of the child, or admin)."""

from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from api.services.access import may_see
from api.services.idempotency import key_reused, keyed_row_id
from api.services.sessions import Clock, utc_now
from coach_sessions.auth import Principal
from coach_sessions.errors import DomainError, ErrorCode, NotFound
from coach_sessions.models import Assessment, Child, Homework
from coach_sessions.progress import EventItem, ProgressView, homework_stats, score_series, session_stats
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.repositories.progress import ProgressRepository

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
RECENT_EVENTS = 15


class ProgressService:
    def __init__(self, progress: ProgressRepository, people: PeopleRepository, *, clock: Clock = utc_now) -> None:
        self._progress = progress
        self._people = people
        self._clock = clock

    async def add_assessment(
        self,
        principal: Principal,
        *,
        child_id: UUID,
        session_id: UUID | None,
        kind: str,
        score: float,
        assessed_at: datetime | None,
        idempotency_key: str | None = None,
    ) -> Assessment:
        """With an ``idempotency_key``: at most one assessment per caller and key (a retry answers it)."""
        child = await self._visible_child(principal, child_id)
        await self._check_session(child, session_id)
        now = self._clock()
        when = assessed_at or now
        if not EARLIEST <= when <= now + timedelta(days=1):
            raise DomainError(ErrorCode.VALIDATION_ERROR, "assessedAt: must be between 2000-01-01 and today.")
        assessment, same = await self._progress.add_assessment(
            child_id=child.id,
            coach_id=child.coach_id,
            session_id=session_id,
            kind=kind,
            score=score,
            assessed_at=when,
            row_id=keyed_row_id(principal.id, "assessment", idempotency_key) if idempotency_key else None,
            assessed_at_sent=assessed_at is not None,
        )
        if not same:
            raise key_reused()
        return assessment

    async def add_homework(
        self,
        principal: Principal,
        *,
        child_id: UUID,
        session_id: UUID | None,
        title: str,
        due_date: date | None,
        idempotency_key: str | None = None,
    ) -> Homework:
        """With an ``idempotency_key``: at most one homework per caller and key (a retry answers it)."""
        child = await self._visible_child(principal, child_id)
        await self._check_session(child, session_id)
        now = self._clock()
        if due_date is not None:
            coach = await self._people.get_coach(child.coach_id)
            assert coach is not None  # FK
            today = now.astimezone(ZoneInfo(coach.timezone)).date()  # the coach's today
            if not today <= due_date <= today + timedelta(days=366):
                raise DomainError(
                    ErrorCode.VALIDATION_ERROR,
                    f"dueDate: must be from today ({today.isoformat()}, {coach.timezone}) to a year from today.",
                )
        homework, same = await self._progress.add_homework(
            child_id=child.id,
            coach_id=child.coach_id,
            session_id=session_id,
            title=title,
            due_date=due_date,
            assigned_at=now,
            row_id=keyed_row_id(principal.id, "homework", idempotency_key) if idempotency_key else None,
        )
        if not same:
            raise key_reused()
        return homework

    async def complete_homework(self, principal: Principal, homework_id: UUID) -> Homework:
        item = await self._progress.get_homework(homework_id)
        if item is None:
            raise NotFound("homework", ErrorCode.NOT_FOUND)
        child = await self._visible_child(principal, item.child_id, what="homework")
        return await self._progress.complete_homework(homework_id, coach_id=child.coach_id, at=self._clock())

    async def progress(self, principal: Principal, child_id: UUID) -> ProgressView:
        child = await self._visible_child(principal, child_id)
        coach = await self._people.get_coach(child.coach_id)
        assert coach is not None  # FK
        today = self._clock().astimezone(ZoneInfo(coach.timezone)).date()
        return ProgressView(
            child=child,
            timezone=coach.timezone,
            assessments=score_series(await self._progress.assessments(child.id)),
            sessions=session_stats(await self._progress.session_counts(child.id)),
            homework=homework_stats(await self._progress.homework(child.id), today),
            recent_events=[
                EventItem.model_validate(e) for e in await self._progress.recent_events(child.id, RECENT_EVENTS)
            ],
        )

    async def _visible_child(self, principal: Principal, child_id: UUID, *, what: str = "child") -> Child:
        """The child if this caller is its coach or an admin; otherwise the same 404 as a missing one."""
        child = await self._people.get_child(child_id)
        if child is None or not may_see(principal, child.coach_id):
            raise NotFound(what, ErrorCode.NOT_FOUND)
        return child

    async def _check_session(self, child: Child, session_id: UUID | None) -> None:
        if session_id is not None and await self._progress.session_child(session_id) != child.id:
            raise NotFound("session of this child", ErrorCode.SESSION_NOT_FOUND)
