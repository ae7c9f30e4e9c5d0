"""devtools.demo_progress: a demo child's scores and homework, at its completed sessions, once."""

from datetime import timedelta

import asyncpg

from devtools.demo_learning import LESSONS, PastSession
from devtools.demo_progress import seed_progress
from tests.factories import make_family, make_sessions, now_utc


async def test_scores_and_homework_belong_to_completed_sessions_and_are_written_once(pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    lessons = LESSONS["Anna Joseph"]
    now = now_utc().replace(minute=0, second=0, microsecond=0)
    starts = [now - timedelta(days=3 * (len(lessons) - n)) for n in range(len(lessons))]
    statuses = ["missed" if lesson.missed else "completed" for lesson in lessons]
    ids = await make_sessions(pool, family, starts, statuses=statuses)
    sessions = [
        PastSession(i, n, s, 45, st) for n, (i, s, st) in enumerate(zip(ids, starts, statuses, strict=True), start=1)
    ]
    child, coach = family.child.id, family.coach.id

    async def counts() -> tuple[int, int, int, int]:
        row = await pool.fetchrow(
            "SELECT (SELECT count(*) FROM assessments WHERE child_id = $1) AS a,"
            " (SELECT count(*) FROM homework_assignments WHERE child_id = $1) AS h,"
            " (SELECT count(*) FROM homework_assignments WHERE child_id = $1 AND completed_at IS NOT NULL) AS d,"
            " (SELECT count(*) FROM learning_events WHERE child_id = $1) AS e",
            child,
        )
        return row["a"], row["h"], row["d"], row["e"]

    await seed_progress(pool, child, coach, "Anna Joseph", lessons, sessions)
    first = await counts()
    completed = statuses.count("completed")
    assert first[0] == completed + (completed + 1) // 2  # reading each time, phonics every other
    assert first[1] == sum(1 for lesson in lessons if lesson.homework)
    assert first[2] == sum(len(lesson.homework_done) for lesson in lessons)
    assert first[3] == first[0] + first[1] + first[2]  # each with its learning event
    await seed_progress(pool, child, coach, "Anna Joseph", lessons, sessions)
    assert await counts() == first  # second run: nothing new

    by_id = {s.id: s for s in sessions}
    for row in await pool.fetch("SELECT session_id, assessed_at FROM assessments WHERE child_id = $1", child):
        session = by_id[row["session_id"]]
        assert session.status == "completed" and session.scheduled_at <= row["assessed_at"] <= session.ends_at
    for row in await pool.fetch("SELECT session_id, completed_at FROM homework_assignments WHERE child_id = $1", child):
        assert by_id[row["session_id"]].status == "completed"
        assert row["completed_at"] is None or any(
            s.status == "completed" and s.scheduled_at <= row["completed_at"] <= s.ends_at for s in sessions
        )
    reading = [
        float(r["score"])
        for r in await pool.fetch(
            "SELECT score FROM assessments WHERE child_id = $1 AND kind = 'reading' ORDER BY assessed_at", child
        )
    ]
    assert all(0 <= s <= 100 for s in reading) and reading == sorted(reading) and reading[-1] > reading[0]
