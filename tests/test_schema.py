"""Migrations on an empty database, and the constraints that guard the invariants."""

import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from coach_sessions.db import MIGRATIONS_DIR, apply_migrations
from coach_sessions.statuses import (
    CalendarSyncStatus,
    CancellationStatus,
    LearningEventType,
    MessageStatus,
    SessionStatus,
)
from tests.factories import make_family, make_sessions, now_utc


def _other_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


async def test_migrations_apply_to_an_empty_database_once(database_url: str) -> None:
    name = "empty_" + secrets.token_hex(4)
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = _other_database(database_url, name)
        expected = sorted(p.stem for p in MIGRATIONS_DIR.glob("*.sql"))
        assert await apply_migrations(dsn) == expected
        assert await apply_migrations(dsn) == []  # second run: nothing to do
        conn = await asyncpg.connect(dsn)
        try:
            tables = {
                r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
            }
            columns = {
                r["column_name"]: r["data_type"]
                for r in await conn.fetch(
                    "SELECT column_name, udt_name AS data_type FROM information_schema.columns"
                    " WHERE table_name = 'learning_events'"
                )
            }
        finally:
            await conn.close()
        assert {
            "coaches",
            "parents",
            "children",
            "enrollments",
            "scheduled_sessions",
            "learning_events",
            "outbound_messages",
            "schema_migrations",
        } <= tables
        assert columns["embedding"] == "vector"
        assert columns["search_vector"] == "tsvector"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def _check_values(pool: asyncpg.Pool, table: str, column: str) -> set[str]:
    definition = await pool.fetchval(
        "SELECT string_agg(pg_get_constraintdef(c.oid), ' ') FROM pg_constraint c"
        " JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = $1 AND c.contype = 'c'"
        " AND pg_get_constraintdef(c.oid) LIKE '%' || $2 || '%' AND pg_get_constraintdef(c.oid) LIKE '%ARRAY%'",
        table,
        f"({column}",
    )
    return set(re.findall(r"'([a-z_]+)'::text", definition or ""))


@pytest.mark.parametrize(
    ("table", "column", "enum"),
    [
        ("scheduled_sessions", "status", SessionStatus),
        ("scheduled_sessions", "cancellation_status", CancellationStatus),
        ("scheduled_sessions", "calendar_sync_status", CalendarSyncStatus),
        ("learning_events", "event_type", LearningEventType),
        ("outbound_messages", "status", MessageStatus),
    ],
)
async def test_check_constraints_list_exactly_the_python_constants(
    pool: asyncpg.Pool, table: str, column: str, enum: type
) -> None:
    assert await _check_values(pool, table, column) == {e.value for e in enum}  # type: ignore[attr-defined]


async def test_constraints_reject_bad_values(pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc()])

    async def rejects(sql: str, *args: object) -> None:
        with pytest.raises((asyncpg.CheckViolationError, asyncpg.UniqueViolationError)):
            await pool.execute(sql, *args)

    await rejects("UPDATE scheduled_sessions SET status = 'done' WHERE id = $1", session_id)
    await rejects("UPDATE scheduled_sessions SET cancellation_status = 'maybe' WHERE id = $1", session_id)
    await rejects("UPDATE scheduled_sessions SET calendar_sync_status = 'ok' WHERE id = $1", session_id)
    # completed needs completed_at, and completed_at needs completed
    await rejects("UPDATE scheduled_sessions SET status = 'completed' WHERE id = $1", session_id)
    await rejects("UPDATE scheduled_sessions SET completed_at = now() WHERE id = $1", session_id)
    # a pending cancellation needs its reason and timestamps
    await rejects("UPDATE scheduled_sessions SET cancellation_status = 'pending' WHERE id = $1", session_id)
    # session numbers are unique per enrollment
    await rejects(
        "INSERT INTO scheduled_sessions (child_id, coach_id, enrollment_id, session_number, scheduled_at,"
        " duration_minutes) SELECT child_id, coach_id, enrollment_id, 1, now(), 45"
        " FROM scheduled_sessions WHERE id = $1",
        session_id,
    )
    await rejects(
        "INSERT INTO learning_events (child_id, event_type, content_for_embedding) VALUES ($1, 'party', 'x')",
        family.child.id,
    )
    await rejects(
        "INSERT INTO learning_events (child_id, event_type, content_for_embedding) VALUES ($1, 'session', '  ')",
        family.child.id,
    )
    await rejects("UPDATE parents SET phone = '98765' WHERE id = $1", family.parent.id)
    await rejects("UPDATE children SET age = 40 WHERE id = $1", family.child.id)
    # and a good value passes (the checks are not simply rejecting everything)
    await pool.execute("UPDATE scheduled_sessions SET status = 'pending' WHERE id = $1", session_id)


async def test_0005_keeps_event_types_that_other_migrations_added(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """0005 rebuilds the event-type CHECK from the list it finds, so a type added by another migration
    (here a stand-in 0003) survives whatever order the migrations were written in."""
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if path.stem <= "0002" or path.stem.startswith("0005"):
            (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "0003_other.sql").write_text(
        "ALTER TABLE learning_events DROP CONSTRAINT learning_events_event_type_check;"
        " ALTER TABLE learning_events ADD CONSTRAINT learning_events_event_type_check"
        " CHECK (event_type = ANY (ARRAY['session', 'assessment', 'nudge_sent']));"
    )
    name = "mig_" + secrets.token_hex(4)
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = _other_database(database_url, name)
        await apply_migrations(dsn, tmp_path)
        conn = await asyncpg.connect(dsn)
        try:
            definition = await conn.fetchval(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'learning_events_event_type_check'"
            )
        finally:
            await conn.close()
        assert set(re.findall(r"'([a-z_]+)'::text", definition)) == {
            "session",
            "assessment",
            "nudge_sent",
            "homework_assigned",
            "homework_completed",
        }
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_migration_edited_after_it_was_applied_stops_the_runner(database_url: str, tmp_path: Path) -> None:
    """Without a checksum an edited migration was silently skipped: the schema and the files disagreed."""
    import shutil

    from coach_sessions.db import MigrationChanged

    name = "edited_" + secrets.token_hex(4)
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = _other_database(database_url, name)
        copies = tmp_path / "migrations"
        shutil.copytree(MIGRATIONS_DIR, copies)
        await apply_migrations(dsn, copies)
        first = sorted(copies.glob("*.sql"))[0]
        original = first.read_text()
        first.write_text(original + "\nCREATE TABLE sneaked_in (id int);\n")
        with pytest.raises(MigrationChanged, match=first.stem):
            await apply_migrations(dsn, copies)
        (copies / "9999_later.sql").write_text("CREATE TABLE later (id int);\n")
        with pytest.raises(MigrationChanged):  # nothing newer is applied past a changed one
            await apply_migrations(dsn, copies)
        first.write_text(original)
        assert await apply_migrations(dsn, copies) == ["9999_later"]
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_0012_names_each_sessions_current_request_message(database_url: str, tmp_path: Path) -> None:
    """0012 names the current request's message of sessions that exist before it, and from then on the
    session's write of its request message names it (a message's request never changes after)."""
    from coach_sessions.db import create_pool
    from coach_sessions.repositories.outbox import enqueue_message

    for path in MIGRATIONS_DIR.glob("*.sql"):
        if path.stem < "0012":
            (tmp_path / path.name).write_text(path.read_text())
    name = "mig_" + secrets.token_hex(4)
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = _other_database(database_url, name)
        await apply_migrations(dsn, tmp_path)
        pool = await create_pool(dsn)
        try:
            family = await make_family(pool)
            # Written as the schema before 0012 takes them (today's repositories know later columns).
            enrollment_id = await pool.fetchval(
                "INSERT INTO enrollments (child_id, coach_id, start_date, session_time, weekdays, session_count,"
                " timezone) VALUES ($1, $2, current_date, '17:00', ARRAY['mon'], 1, 'UTC') RETURNING id",
                family.child.id,
                family.coach.id,
            )
            session_id = await pool.fetchval(
                "INSERT INTO scheduled_sessions (child_id, coach_id, enrollment_id, session_number, scheduled_at,"
                " duration_minutes) VALUES ($1, $2, $3, 1, $4, 45) RETURNING id",
                family.child.id,
                family.coach.id,
                enrollment_id,
                now_utc(),
            )

            async def request_message(request: int) -> object:
                async with pool.acquire() as conn:
                    message_id = await enqueue_message(
                        conn,
                        idempotency_key=f"test:{secrets.token_hex(4)}",
                        template_name="p26_cancellation_request",
                        destination=family.parent.phone,
                        user_name=family.parent.name,
                        template_params=["x"],
                        session_id=session_id,
                        child_id=family.child.id,
                    )
                await pool.execute(
                    "UPDATE scheduled_sessions SET consent_workflow_id = $2 WHERE id = $1",
                    session_id,
                    f"consent-{session_id}-{request}",
                )
                await pool.execute(
                    "UPDATE scheduled_sessions SET cancellation_message_id = $2 WHERE id = $1", session_id, message_id
                )
                return message_id

            older, current = await request_message(1), await request_message(2)
            (tmp_path / "0012_x.sql").write_text(
                (MIGRATIONS_DIR / "0012_request_message_knows_its_request.sql").read_text()
            )
            await apply_migrations(dsn, tmp_path)

            async def named(message_id: object) -> str | None:
                return await pool.fetchval(  # type: ignore[no-any-return]
                    "SELECT consent_workflow_id FROM outbound_messages WHERE id = $1", message_id
                )

            assert (await named(older), await named(current)) == (None, f"consent-{session_id}-2")
            third = await request_message(3)
            assert await named(third) == f"consent-{session_id}-3"
            await pool.execute(  # naming the same message again, with another request, changes nothing
                "UPDATE scheduled_sessions SET consent_workflow_id = 'other', cancellation_message_id = $2"
                " WHERE id = $1",
                session_id,
                third,
            )
            assert await named(third) == f"consent-{session_id}-3"
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
