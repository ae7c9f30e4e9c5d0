"""Demo progress for `make run`: weekly reading and phonics scores and some homework for the demo
children, so the progress dashboard shows real curves out of the box.

Call ``seed_progress(pool, now)`` after the demo people exist (``seed_demo``). It is idempotent: a child
who already has any assessment or homework is left alone. Everything is written through
``ProgressRepository``, so each score and homework item has its learning event, as from the API.
"""

import hashlib
import random
from datetime import datetime, timedelta

import asyncpg

from coach_sessions.repositories.progress import ProgressRepository
from devtools.demo_data import DEMO_COACH_EMAILS

WEEKS = 8
HOMEWORK = (
    "Read 'The Very Hungry Caterpillar' aloud to a parent",
    "Practise the 'sh' and 'ch' sound cards",
    "Write three sentences about your weekend",
    "Re-read chapter 2 and underline new words",
)


async def seed_progress(pool: asyncpg.Pool, now: datetime) -> None:
    children = await pool.fetch(
        """
        SELECT ch.id, ch.name, ch.coach_id FROM children ch JOIN coaches co ON co.id = ch.coach_id
         WHERE lower(co.email) = ANY($1::text[])
           AND NOT EXISTS (SELECT 1 FROM assessments a WHERE a.child_id = ch.id)
           AND NOT EXISTS (SELECT 1 FROM homework_assignments h WHERE h.child_id = ch.id)
         ORDER BY ch.name
        """,
        list(DEMO_COACH_EMAILS),
    )
    repo = ProgressRepository(pool)
    for child in children:
        # The same curve for the same child on every machine.
        rng = random.Random(hashlib.sha256(child["name"].encode()).digest())
        reading, phonics = rng.uniform(35, 50), rng.uniform(25, 40)
        for week in range(WEEKS):
            at = now - timedelta(weeks=WEEKS - week, hours=rng.randint(0, 48))
            reading = min(98.0, reading + rng.uniform(-1, 6))
            await repo.add_assessment(
                child_id=child["id"], coach_id=child["coach_id"], session_id=None,
                kind="reading", score=round(reading, 1), assessed_at=at,
            )  # fmt: skip
            if week % 2 == 1:
                phonics = min(98.0, phonics + rng.uniform(0, 9))
                await repo.add_assessment(
                    child_id=child["id"], coach_id=child["coach_id"], session_id=None,
                    kind="phonics", score=round(phonics, 1), assessed_at=at + timedelta(hours=1),
                )  # fmt: skip
        for number, title in enumerate(HOMEWORK):
            assigned = now - timedelta(days=3 + 6 * (len(HOMEWORK) - number))
            item = await repo.add_homework(
                child_id=child["id"], coach_id=child["coach_id"], session_id=None,
                title=title, due_date=(assigned + timedelta(days=5)).date(), assigned_at=assigned,
            )  # fmt: skip
            if number < 2 or (number == 3 and rng.random() < 0.5):  # the third one stays overdue
                await repo.complete_homework(item.id, coach_id=child["coach_id"], at=assigned + timedelta(days=3))
