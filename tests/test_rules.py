"""The lock and can_mark_missed rules, in Python and as the repository computes them from SQL."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from coach_sessions import rules
from coach_sessions.models import SessionView
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.scheduling import session_start_times
from tests.factories import hours, make_family, make_sessions, now_utc


@pytest.mark.parametrize(
    ("number", "siblings", "expected"),
    [
        (1, [(1, "scheduled")], None),
        (2, [(1, "scheduled"), (2, "scheduled")], 1),
        (3, [(1, "completed"), (2, "pending"), (3, "scheduled")], 2),
        (3, [(1, "missed"), (2, "rescheduled"), (3, "scheduled")], None),
        (4, [(1, "cancelled"), (2, "pending"), (3, "scheduled"), (4, "pending")], 2),
        (2, [(1, "completed"), (2, "scheduled"), (3, "scheduled")], None),  # later ones don't lock
    ],
)
def test_blocking_session_number(number: int, siblings: list[tuple[int, str]], expected: int | None) -> None:
    assert rules.blocking_session_number(number, siblings) == expected


def test_mark_missed_needs_a_passed_start_an_open_status_and_no_lock() -> None:
    now = datetime(2026, 1, 12, 12, 0, tzinfo=ZoneInfo("UTC"))
    past, future = now - timedelta(minutes=1), now + timedelta(minutes=1)

    def refused(status: str, at: datetime, blocking: int | None = None) -> str | None:
        facts = rules.SessionFacts(3, status, "none", at, blocking)
        error = rules.refusal(rules.Button.MARK_MISSED, facts, role="coach", now=now, minimum_notice=None)
        return error.code if error else None

    for status in ("scheduled", "pending", "rescheduled"):
        assert refused(status, past) is None
        assert refused(status, future) == "session_not_started"
        assert refused(status, past, blocking=2) == "session_locked"  # the lock holds missed too
    for status in ("completed", "missed", "cancelled"):
        assert refused(status, past) == "invalid_status"


async def test_repository_reports_lock_and_flags(pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    now = now_utc()
    ids = await make_sessions(
        pool,
        family,
        [now - hours(72), now - hours(48), now - hours(24), now + hours(24)],
        statuses=["completed", "pending", "scheduled", "scheduled"],
    )
    repo = SessionRepository(pool)
    views = [SessionView.of(r, now, None, role="coach") for r in await repo.list_for_child(family.child.id, None)]
    assert [v.id for v in views] == ids
    assert [v.is_locked for v in views] == [False, False, True, True]
    assert [v.can_mark_missed for v in views] == [False, True, False, False]  # #3 is locked
    assert views[2].blocking_session_number == 2
    assert views[2].lock_reason is not None and "Session 2" in views[2].lock_reason
    single = await repo.get(ids[3])
    assert single is not None and single.blocking_session_number == 2
    # another coach's filter sees nothing of this child
    assert await repo.list_for_child(family.child.id, family.parent.id) == []


def test_session_start_times_keep_local_wall_clock_time() -> None:
    starts = session_start_times(
        start_date=date(2026, 3, 2),
        session_time=time(17, 0),
        weekdays=["tue", "thu"],
        count=5,
        timezone="America/New_York",
    )
    assert [s.date().isoformat() for s in starts] == [
        "2026-03-03",
        "2026-03-05",
        "2026-03-10",
        "2026-03-12",
        "2026-03-17",
    ]
    assert all(s.hour == 17 for s in starts)  # across the 8 March DST change
    assert starts[0].utcoffset() != starts[2].utcoffset()


def test_session_start_times_include_the_start_date_itself() -> None:
    starts = session_start_times(
        start_date=date(2026, 1, 12),
        session_time=time(9, 30),
        weekdays=["mon"],
        count=2,
        timezone="Asia/Kolkata",
    )
    assert starts[0] == datetime(2026, 1, 12, 9, 30, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert starts[1].date() == date(2026, 1, 19)
