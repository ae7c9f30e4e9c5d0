"""Demo progress for `make run`: the reading and phonics scores and the homework of a demo child's past
sessions, so the progress dashboard shows real curves out of the box.

A reading score at every completed session and a phonics score at every other one, each dated in its
session; the homework of each lesson given at its session, due a week later, and marked done at the
session that says so (``Lesson.homework_done``). Everything is written through ``ProgressRepository``,
so each score and homework item has its learning event, as from the API. Idempotent: a score or a
homework item the child already has (same session and kind, same title) is not written again.
"""

import hashlib
import random
from datetime import timedelta
from uuid import UUID

import asyncpg

from coach_sessions.repositories.progress import ProgressRepository
from coach_sessions.statuses import SessionStatus
from devtools.demo_learning import Lesson, PastSession

HOMEWORK_DUE = timedelta(days=7)
SCORED_AT = timedelta(minutes=30)  # into the session
HOMEWORK_AT = timedelta(minutes=42)
DONE_AT = timedelta(minutes=5)


async def seed_progress(
    pool: asyncpg.Pool, child_id: UUID, coach_id: UUID, name: str, lessons: list[Lesson], sessions: list[PastSession]
) -> None:
    repo = ProgressRepository(pool)
    # The same curve for the same child on every machine.
    rng = random.Random(hashlib.sha256(name.encode()).digest())
    reading, phonics = rng.uniform(35, 45), rng.uniform(25, 35)
    completed = 0
    homework_ids: dict[str, UUID] = {
        r["title"]: r["id"]
        for r in await pool.fetch("SELECT id, title FROM homework_assignments WHERE child_id = $1", child_id)
    }
    for lesson, session in zip(lessons, sessions, strict=False):
        if session.status != SessionStatus.COMPLETED:
            continue  # nothing is assessed, given or checked at a session that did not happen
        if completed:  # a little higher each time, phonics more slowly
            reading = min(98.0, reading + rng.uniform(1, 5))
        scores = [("reading", reading)]
        if completed % 2 == 0:
            if completed:
                phonics = min(98.0, phonics + rng.uniform(2, 8))
            scores.append(("phonics", phonics))
        completed += 1
        for kind, score in scores:
            exists = await pool.fetchval(
                "SELECT 1 FROM assessments WHERE child_id = $1 AND session_id = $2 AND kind = $3",
                child_id,
                session.id,
                kind,
            )
            if not exists:
                await repo.add_assessment(
                    child_id=child_id, coach_id=coach_id, session_id=session.id,
                    kind=kind, score=round(score, 1), assessed_at=session.scheduled_at + SCORED_AT,
                )  # fmt: skip
        for title in lesson.homework_done:
            await repo.complete_homework(homework_ids[title], coach_id=coach_id, at=session.scheduled_at + DONE_AT)
        if lesson.homework and lesson.homework not in homework_ids:
            assigned = session.scheduled_at + HOMEWORK_AT
            item, _ = await repo.add_homework(
                child_id=child_id, coach_id=coach_id, session_id=session.id,
                title=lesson.homework, due_date=(assigned + HOMEWORK_DUE).date(), assigned_at=assigned,
            )  # fmt: skip
            homework_ids[item.title] = item.id
