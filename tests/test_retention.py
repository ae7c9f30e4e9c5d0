"""Retention: inbound webhook bodies and sent messages' parameters purged after PERSONAL_DATA_RETENTION,
by the long-lived retention workflow (time skipping), what the record needs kept, and nothing newer touched."""

import secrets
from datetime import timedelta
from uuid import UUID

import asyncpg
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from coach_sessions.repositories.retention import RetentionRepository
from coach_sessions.retention import RETENTION_WORKFLOW_ID, ensure_retention_workflow
from tests.factories import make_family
from tests.helpers import eventually, running_worker
from tests.helpers import test_settings as settings_for  # not collected as a test


async def _message(pool: asyncpg.Pool, child_id: UUID, *, age: timedelta, status: str, secret: str) -> UUID:
    sent_at = "now() - $4::interval" if status == "sent" else "NULL"
    return await pool.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO outbound_messages (idempotency_key, template_name, destination, user_name, template_params,"
        f" child_id, status, created_at, sent_at) VALUES ($1, 'p00_test', '+919800000000', $2, $3, $5, $6,"
        f" now() - $4::interval, {sent_at}) RETURNING id",
        secrets.token_hex(8),
        secret,
        [secret, "session 3"],
        age,
        child_id,
        status,
    )


async def _reply(pool: asyncpg.Pool, *, age: timedelta, secret: str) -> UUID:
    return await pool.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO inbound_messages (provider_message_id, from_phone, button_text, choice, outcome, payload,"
        " received_at) VALUES ($1, $2, 'Approve', 'approve', 'signalled', $3, now() - $4::interval) RETURNING id",
        secrets.token_hex(8),
        "+9198" + secret[-8:].translate(str.maketrans("abcdef", "123456")),
        {"text": secret},
        age,
    )


async def _plant(pool: asyncpg.Pool) -> dict[str, UUID]:
    child_id = (await make_family(pool)).child.id
    secret = "planted-" + secrets.token_hex(8)
    return {
        "old sent": await _message(pool, child_id, age=timedelta(days=91), status="sent", secret=secret),
        "old in doubt": await _message(pool, child_id, age=timedelta(days=91), status="in_doubt", secret=secret),
        "new sent": await _message(pool, child_id, age=timedelta(days=89), status="sent", secret=secret),
        "old reply": await _reply(pool, age=timedelta(days=91), secret=secret),
        "new reply": await _reply(pool, age=timedelta(days=1), secret=secret),
    }


async def _purged(pool: asyncpg.Pool, ids: dict[str, UUID]) -> dict[str, bool]:
    sent = {
        name: await pool.fetchval("SELECT template_params = '[]'::jsonb FROM outbound_messages WHERE id = $1", i)
        for name, i in ids.items()
        if "reply" not in name
    }
    replies = {
        name: await pool.fetchval("SELECT from_phone = 'purged' FROM inbound_messages WHERE id = $1", i)
        for name, i in ids.items()
        if "reply" in name
    }
    return sent | replies


async def test_the_purge_takes_only_what_is_old_and_over_and_keeps_what_the_record_needs(pool: asyncpg.Pool) -> None:
    ids = await _plant(pool)
    first = await RetentionRepository(pool).purge(timedelta(days=90))
    assert first.message_parameters >= 1 and first.inbound_bodies >= 1
    assert await _purged(pool, ids) == {
        "old sent": True,
        "old in doubt": False,  # still needs its parameters (an operator may resend it)
        "new sent": False,
        "old reply": True,
        "new reply": False,
    }
    kept = await pool.fetchrow(
        "SELECT template_name, status, sent_at IS NOT NULL AS sent, user_name FROM outbound_messages WHERE id = $1",
        ids["old sent"],
    )
    assert (kept["template_name"], kept["status"], kept["sent"], kept["user_name"]) == ("p00_test", "sent", True, "")
    reply = await pool.fetchrow("SELECT choice, outcome, payload FROM inbound_messages WHERE id = $1", ids["old reply"])
    assert (reply["choice"], reply["outcome"], reply["payload"]) == ("approve", "signalled", {"purged": True})
    again = await RetentionRepository(pool).purge(timedelta(days=90))
    assert (
        await _purged(pool, ids) == await _purged(pool, ids) and again.model_dump().keys() == first.model_dump().keys()
    )


async def test_ended_sign_in_sessions_go_after_the_retention(pool: asyncpg.Pool) -> None:
    coach_id = (await make_family(pool)).coach.id
    for ended in ("now() - interval '91 days'", "now() - interval '1 day'", "NULL"):
        await pool.execute(
            "INSERT INTO sign_in_sessions (token_sha256, coach_id, csrf_token, signed_in_with, created_at, expires_at,"
            f" ended_at) VALUES ($1, $2, $3, 'token', now() - interval '100 days', now() + interval '1 hour', {ended})",
            secrets.token_bytes(32),
            coach_id,
            secrets.token_urlsafe(32),
        )
    await RetentionRepository(pool).purge(timedelta(days=90))
    left = await pool.fetch("SELECT ended_at FROM sign_in_sessions WHERE coach_id = $1", coach_id)
    assert len(left) == 2


async def test_the_retention_workflow_purges_then_again_after_its_interval(
    temporal_env: WorkflowEnvironment, pool: asyncpg.Pool
) -> None:
    client = temporal_env.client
    async with running_worker(client, pool) as task_queue:
        settings = settings_for(task_queue, personal_data_retention=timedelta(days=90))
        first = await _plant(pool)
        await ensure_retention_workflow(client, settings)
        await ensure_retention_workflow(client, settings)  # a second worker's start finds the first
        handle = client.get_workflow_handle(RETENTION_WORKFLOW_ID)
        run_id = (await handle.describe()).run_id

        async def purged_first() -> bool:
            return (await _purged(pool, first))["old sent"]

        await eventually(purged_first)
        later = await _plant(pool)  # planted after the first pass: the next pass (a day on) takes them
        await temporal_env.sleep(timedelta(hours=25))

        async def purged_later() -> bool:
            return (await _purged(pool, later))["old reply"]

        await eventually(purged_later)
        described = await handle.describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
        assert described.run_id != run_id  # continued as new: its history stays short
        await handle.terminate("test over")
