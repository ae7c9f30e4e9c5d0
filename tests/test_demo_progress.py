"""devtools.demo_progress: the demo children get score curves and homework, once."""

from datetime import UTC, datetime

import asyncpg

from coach_sessions.repositories.people import PeopleRepository
from devtools.demo_data import DEMO_COACH_EMAILS
from devtools.demo_progress import seed_progress
from tests.factories import make_family


async def _demo_family(pool: asyncpg.Pool):  # type: ignore[no-untyped-def]
    """The demo coach as demo.py creates it (reused if another test made it already) with a new child."""
    people = PeopleRepository(pool)
    coach = await people.find_coach_by_email(DEMO_COACH_EMAILS[0]) or await people.create_coach(
        name="Asha Menon", email=DEMO_COACH_EMAILS[0], phone=None, calendar_id=None, timezone="Asia/Kolkata"
    )
    return await make_family(pool, coach=coach)


async def test_seed_progress_is_idempotent_and_writes_events(pool: asyncpg.Pool) -> None:
    family = await _demo_family(pool)
    outsider = await make_family(pool)  # not a demo coach's child
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    await seed_progress(pool, now)

    async def counts(child_id: object) -> tuple[int, int, int]:
        row = await pool.fetchrow(
            "SELECT (SELECT count(*) FROM assessments WHERE child_id = $1) AS a,"
            " (SELECT count(*) FROM homework_assignments WHERE child_id = $1) AS h,"
            " (SELECT count(*) FROM learning_events WHERE child_id = $1) AS e",
            child_id,
        )
        return row["a"], row["h"], row["e"]

    first = await counts(family.child.id)
    assert first[0] == 12 and first[1] == 4  # 8 reading + 4 phonics; 4 homework
    assert first[2] >= first[0] + first[1] + 2  # each score, each homework, and each completion
    assert await counts(outsider.child.id) == (0, 0, 0)
    await seed_progress(pool, now)
    assert await counts(family.child.id) == first  # second run: nothing new

    scores = [
        float(r["score"])
        for r in await pool.fetch(
            "SELECT score FROM assessments WHERE child_id = $1 AND kind = 'reading' ORDER BY assessed_at",
            family.child.id,
        )
    ]
    assert all(0 <= s <= 100 for s in scores) and scores[-1] > scores[0]  # a rising curve
    overdue = await pool.fetchval(
        "SELECT count(*) FROM homework_assignments WHERE child_id = $1 AND completed_at IS NULL AND due_date < $2",
        family.child.id,
        now.date(),
    )
    assert overdue >= 1
