"""The demo learning record: found for the demo children, varied, idempotent, and enough for a brief."""

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from coach_sessions.db import apply_migrations, create_pool
from coach_sessions.repositories.people import PeopleRepository
from devtools.demo_data import DEMO_COACH_EMAILS
from devtools.demo_learning import NOTES, seed_learning_events
from tests.factories import make_family, make_sessions, now_utc
from tests.helpers import api_client, auth, running_worker


@pytest.fixture
async def own_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A database of its own: the demo coaches' emails are fixed, and other tests may seed the demo too."""
    name = "demo_" + secrets.token_hex(4)
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(database_url)._replace(path="/" + name))
    try:
        await apply_migrations(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=2)
        yield pool
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def _demo_children(pool: asyncpg.Pool) -> dict[str, object]:
    """The demo seed's coaches and children (created here if this database has none yet)."""
    people = PeopleRepository(pool)
    coach = await people.find_coach_by_email(DEMO_COACH_EMAILS[0])
    if coach is None:
        coach = await people.create_coach(
            name="Asha Menon", email=DEMO_COACH_EMAILS[0], phone=None, calendar_id=None, timezone="Asia/Kolkata"
        )
    ids = {}
    for i, name in enumerate(NOTES):
        existing = await pool.fetchval("SELECT id FROM children WHERE name = $1 AND coach_id = $2", name, coach.id)
        if existing is None:
            parent = await people.create_parent(name=f"Demo parent {i}", phone=f"+91990000{i:04d}", email=None)
            existing = (await people.create_child(name=name, age=7, parent_id=parent.id, coach_id=coach.id)).id
        ids[name] = existing
    return ids


async def test_seeding_writes_weeks_of_varied_notes_once(own_pool: asyncpg.Pool) -> None:
    pool = own_pool
    children = await _demo_children(pool)
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    await seed_learning_events(pool, now)
    await seed_learning_events(pool, now)  # again: nothing new
    for name, child_id in children.items():
        rows = await pool.fetch(
            "SELECT event_type, event_date, content_for_embedding FROM learning_events"
            " WHERE child_id = $1 AND idempotency_key LIKE 'demo-learning:%'",
            child_id,
        )
        assert len(rows) == len(NOTES[name]) >= 12
        assert len({r["event_type"] for r in rows}) >= 4
        span = max(r["event_date"] for r in rows) - min(r["event_date"] for r in rows)
        assert span.days >= 14  # several weeks
        assert all(r["event_date"] <= now for r in rows)
    text = " ".join(n[3].lower() for notes in NOTES.values() for n in notes)
    for topic in ("sound", "blend", "wpm", "retell", "new words", "proud", "missed"):
        assert topic in text


async def test_with_no_credentials_prep_answers_for_every_session_from_the_local_models(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    """What `make run` does: local wordllama + local writer, a demo child's notes, past and future sessions."""
    family = await make_family(pool)
    for number, (days_ago, event_type, data, text) in enumerate(NOTES["Aarav Iyer"]):
        await pool.execute(
            "INSERT INTO learning_events (child_id, coach_id, event_type, event_date, event_data,"
            " content_for_embedding)"
            " VALUES ($1, $2, $3, now() - make_interval(days => $4, hours => $5), $6, $7)",
            family.child.id,
            family.coach.id,
            event_type,
            days_ago,
            number % 5,
            data,
            text,
        )
    now = now_utc()
    starts = [now - timedelta(days=7), now - timedelta(days=2), now + timedelta(hours=1), now + timedelta(days=5)]
    sessions = await make_sessions(pool, family, starts, statuses=["completed", "scheduled", "scheduled", "scheduled"])
    async with running_worker(temporal_env.client, pool) as tq, api_client(pool, temporal_env.client, tq) as http:
        with temporal_env.auto_time_skipping_disabled():
            for session_id in sessions:
                answer = await http.get(
                    "/api/coach/session-prep", params={"sessionId": str(session_id)}, headers=auth(family.coach.id)
                )
                assert answer.status_code == 200, answer.text
                brief = answer.json()
                assert brief["model"] == "local" and len(brief["sources"]) == 12
                cited = {
                    i
                    for key in ("challenges", "motivators", "recommended_activities")
                    for x in brief[key]
                    for i in x["event_ids"]
                }
                assert cited <= {s["id"] for s in brief["sources"]} and brief["session_focus"]["event_ids"]
                assert 1 <= len(brief["challenges"]) <= 5 and 1 <= len(brief["motivators"]) <= 5
