"""The progress dashboard's numbers: score series per kind, session and homework completion rates."""

from collections import defaultdict
from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel

from coach_sessions.models import Assessment, Child, Homework
from coach_sessions.statuses import TERMINAL_STATUSES


class ScorePoint(BaseModel):
    assessed_at: datetime
    score: float
    session_id: UUID | None


class ScoreSeries(BaseModel):
    kind: str
    points: list[ScorePoint]


class SessionStats(BaseModel):
    counts: dict[str, int]  # sessions per status
    completed: int
    resolved: int  # completed + missed + cancelled: sessions that will not happen any more
    # completed + missed: the sessions that count. A cancelled one (an admin's cancellation, or a coach's
    # request the parent agreed to) is nobody's miss: it counts against neither the child nor the coach.
    counted: int
    completion_rate: float | None  # completed ÷ counted; None before any session counts


class HomeworkStats(BaseModel):
    assigned: int
    done: int
    overdue: int  # not done and due before today (coach's timezone)
    completion_rate: float | None  # done ÷ assigned; None with no homework
    items: list[Homework]  # most recent first


class EventItem(BaseModel):
    id: UUID
    event_type: str
    event_date: datetime
    session_id: UUID | None
    text: str


class ProgressView(BaseModel):
    child: Child
    timezone: str
    assessments: list[ScoreSeries]
    sessions: SessionStats
    homework: HomeworkStats
    recent_events: list[EventItem]


def score_series(assessments: list[Assessment]) -> list[ScoreSeries]:
    by_kind: dict[str, list[ScorePoint]] = defaultdict(list)
    for a in sorted(assessments, key=lambda a: (a.kind, a.assessed_at)):
        by_kind[a.kind].append(ScorePoint(assessed_at=a.assessed_at, score=a.score, session_id=a.session_id))
    return [ScoreSeries(kind=kind, points=points) for kind, points in by_kind.items()]


def completion_rate(completed: int, missed: int) -> float | None:
    """The one rule for a child's and a coach's session completion rate: completed ÷ (completed + missed)."""
    counted = completed + missed
    return round(completed / counted, 4) if counted else None


def session_stats(counts: dict[str, int]) -> SessionStats:
    completed, missed = counts.get("completed", 0), counts.get("missed", 0)
    resolved = sum(n for status, n in counts.items() if status in TERMINAL_STATUSES)
    return SessionStats(
        counts=counts,
        completed=completed,
        resolved=resolved,
        counted=completed + missed,
        completion_rate=completion_rate(completed, missed),
    )


def homework_stats(items: list[Homework], today: date, *, keep: int = 20) -> HomeworkStats:
    done = sum(1 for h in items if h.completed_at is not None)
    overdue = sum(1 for h in items if h.completed_at is None and h.due_date is not None and h.due_date < today)
    return HomeworkStats(
        assigned=len(items),
        done=done,
        overdue=overdue,
        completion_rate=round(done / len(items), 4) if items else None,
        items=items[:keep],
    )
