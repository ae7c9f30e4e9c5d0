"""The ops desk's API: the queue, the pending cancellation requests, and each action (audited, idempotent,
refusing a row that changed) against the real worker, Postgres and the fake AiSensy / Google Calendar."""

import asyncio
import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from subprocess import PIPE
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from api.services import Services
from devtools.devstack import temporal_command, wait_for_temporal
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.faults.procs import free_port
from tests.helpers import (
    ADMIN,
    ADMIN_EMAIL,
    ADMIN_ID,
    TEST_DATA_CONVERTER,
    Stack,
    api_client,
    auth,
    eventually,
    running_worker,
)
from tests.helpers import test_settings as settings_for  # not collected as a test


async def _stuck_message(pool: asyncpg.Pool, family: Family, session_id: UUID, status: str = "in_doubt") -> UUID:
    """A message an attempt died sending (in_doubt) or the provider refused (failed)."""
    return await pool.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO outbound_messages (idempotency_key, template_name, destination, user_name, template_params,"
        " session_id, child_id, status, attempts, last_error, recipient_role)"
        " VALUES ($1, 'p21_session_summary', $2, 'Parent', $3, $4, $5, $6, 1, 'attempt died', 'parent') RETURNING id",
        f"test-stuck-{secrets.token_hex(8)}",
        family.parent.phone,
        ["Child", "Well done"],
        session_id,
        family.child.id,
        status,
    )


async def _queue(stack: Stack) -> dict[str, Any]:
    answer = await stack.http.get("/api/ops/queue", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    queue: dict[str, Any] = answer.json()
    return queue


def _listed(queue: dict[str, Any], kind: str, key: str, value: UUID) -> dict[str, Any] | None:
    return next((item for item in queue[kind] if item[key] == str(value)), None)


async def _act(stack: Stack, path: str, seen: str, **body: Any) -> Any:
    return await stack.http.post(path, headers=ADMIN, json={"seenUpdatedAt": seen, **body})


async def test_resend_delivers_once_is_audited_and_the_same_request_again_changes_nothing(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(3)], statuses=["completed"])
    message_id = await _stuck_message(pool, family, session_id)
    queue = await _queue(stack)
    assert queue["workflows_checked"] is False and queue["failed_workflows"] == []  # the test server cannot list
    listed = _listed(queue, "messages", "id", message_id)
    assert listed is not None and listed["status"] == "in_doubt" and listed["last_error"] == "attempt died"
    assert listed["child_id"] == str(family.child.id) and listed["session_number"] == 1
    sent_before = len(stack.aisensy.request_log)

    path = f"/api/ops/messages/{message_id}/resend"
    first = await _act(stack, path, listed["updated_at"], note="parent says nothing came")
    assert first.status_code == 200, first.text
    assert first.json()["replayed"] is False and first.json()["action"]["from_state"] == "in_doubt"

    async def sent() -> bool:
        return await pool.fetchval("SELECT status FROM outbound_messages WHERE id = $1", message_id) == "sent"

    await eventually(sent)
    assert len(stack.aisensy.request_log) == sent_before + 1
    again = await _act(stack, path, listed["updated_at"], note="parent says nothing came")
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["action"]["id"] == first.json()["action"]["id"]
    await asyncio.sleep(0.3)
    assert len(stack.aisensy.request_log) == sent_before + 1  # not sent twice
    audit = await pool.fetch("SELECT * FROM ops_actions WHERE target_id = $1", message_id)
    assert [(a["action"], a["admin_id"], a["channel"], a["note"]) for a in audit] == [
        ("resend", ADMIN_ID, "desk", "parent says nothing came")
    ]
    listed_actions = await stack.http.get("/api/ops/actions", headers=ADMIN, params={"limit": 200})
    assert any(a["target_id"] == str(message_id) for a in listed_actions.json()["actions"])
    assert _listed(await _queue(stack), "messages", "id", message_id) is None
    # Sent now: another action on it is refused with the row as it is, and writes nothing.
    late = await _act(stack, f"/api/ops/messages/{message_id}/drop", listed["updated_at"])
    assert late.status_code == 409 and late.json()["error"] == "row_changed" and late.json()["current_state"] == "sent"
    assert await pool.fetchval("SELECT count(*) FROM ops_actions WHERE target_id = $1", message_id) == 1


async def test_a_row_that_changed_meanwhile_is_refused_and_ten_drops_make_one(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(3)], statuses=["completed"])
    message_id = await _stuck_message(pool, family, session_id, status="failed")
    seen = _listed(await _queue(stack), "messages", "id", message_id)["updated_at"]  # type: ignore[index]
    await pool.execute("UPDATE outbound_messages SET updated_at = now() WHERE id = $1", message_id)  # someone else
    stale = await _act(stack, f"/api/ops/messages/{message_id}/drop", seen)
    assert stale.status_code == 409 and stale.json()["current_state"] == "failed", stale.text
    fresh = _listed(await _queue(stack), "messages", "id", message_id)["updated_at"]  # type: ignore[index]
    answers = await asyncio.gather(*(_act(stack, f"/api/ops/messages/{message_id}/drop", fresh) for _ in range(10)))
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    assert sorted(a.json()["replayed"] for a in answers) == [False] + [True] * 9
    assert await pool.fetchval("SELECT status FROM outbound_messages WHERE id = $1", message_id) == "dropped"
    assert await pool.fetchval("SELECT count(*) FROM ops_actions WHERE target_id = $1", message_id) == 1


async def test_mark_delivered_sends_nothing(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(3)], statuses=["completed"])
    message_id = await _stuck_message(pool, family, session_id)
    seen = _listed(await _queue(stack), "messages", "id", message_id)["updated_at"]  # type: ignore[index]
    before = len(stack.aisensy.request_log)
    done = await _act(stack, f"/api/ops/messages/{message_id}/mark-delivered", seen, note="parent confirmed")
    assert done.status_code == 200 and done.json()["current_state"] == "sent", done.text
    row = await pool.fetchrow("SELECT status, sent_at FROM outbound_messages WHERE id = $1", message_id)
    assert row["status"] == "sent" and row["sent_at"] is not None
    await asyncio.sleep(0.3)
    assert len(stack.aisensy.request_log) == before


async def test_retry_now_syncs_a_failed_calendar_event(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(30)])
    await pool.execute(
        "UPDATE scheduled_sessions SET calendar_sync_status = 'failed', calendar_sync_error = 'HttpError 403'"
        " WHERE id = $1",
        session_id,
    )
    listed = _listed(await _queue(stack), "calendar_syncs", "session_id", session_id)
    assert listed is not None and listed["calendar_sync_error"] == "HttpError 403"
    answer = await _act(stack, f"/api/ops/sessions/{session_id}/retry-calendar-sync", listed["updated_at"])
    assert answer.status_code == 200, answer.text

    async def synced() -> bool:
        return await pool.fetchval(
            "SELECT calendar_sync_status = 'synced' AND google_event_id IS NOT NULL FROM scheduled_sessions"
            " WHERE id = $1",
            session_id,
        )

    await eventually(synced)
    event = await pool.fetchval("SELECT google_event_id FROM scheduled_sessions WHERE id = $1", session_id)
    assert event in {event_id for _, event_id in stack.calendar.live_events()}
    assert _listed(await _queue(stack), "calendar_syncs", "session_id", session_id) is None
    # Nothing left for the reconciler: the desk's own call did it.
    assert not await pool.fetchval("SELECT count(*) FROM workflow_reconciliations WHERE target_id = $1", session_id)


async def test_pending_requests_soonest_first_with_the_parents_last_answer_and_stale_sessions(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family, other = await make_family(pool), await make_family(pool)
    [later] = await make_sessions(pool, family, [now_utc() + hours(60)])
    [sooner] = await make_sessions(pool, other, [now_utc() + hours(50)])
    for session_id, expires in ((later, hours(40)), (sooner, hours(6))):
        await pool.execute(
            "UPDATE scheduled_sessions SET cancellation_status = 'pending', cancellation_reason = 'Coach unwell',"
            " cancellation_requested_at = now(), cancellation_expires_at = now() + $2::interval,"
            " cancellation_request_count = 1 WHERE id = $1",
            session_id,
            expires,
        )
    await pool.execute(
        "INSERT INTO inbound_messages (provider_message_id, from_phone, choice, matched_session_id, outcome, payload)"
        " VALUES ($1, $2, 'call_me', $3, 'signalled', '{}'::jsonb)",
        f"wamid.{uuid4().hex}",
        family.parent.phone,
        later,
    )
    answer = await stack.http.get("/api/ops/cancellation-requests", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    mine = [r for r in answer.json()["requests"] if r["session_id"] in (str(later), str(sooner))]
    assert [r["session_id"] for r in mine] == [str(sooner), str(later)]  # soonest expiry first
    assert [r["parent_last_answer"] for r in mine] == [None, "call_me"]
    queue = await _queue(stack)
    assert _listed(queue, "consents_expiring", "session_id", sooner) is not None  # within 12 h
    assert _listed(queue, "consents_expiring", "session_id", later) is None

    stale_family = await make_family(pool)
    [stale] = await make_sessions(pool, stale_family, [now_utc() - timedelta(days=3)], statuses=["pending"])
    assert _listed(await _queue(stack), "sessions_pending", "session_id", stale) is not None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"seenUpdatedAt": "1733300000"},
        {"seenUpdatedAt": 1733300000},
        {"seenUpdatedAt": "yesterday"},
        {"seenUpdatedAt": "2026-13-45T99:00:00Z"},
        {"seenUpdatedAt": "9999-01-01T00:00:00Z"},
        {"seenUpdatedAt": "2026-12-04T10:00:00"},  # no offset
        {"seenUpdatedAt": "2026-12-04T10:00:00Z", "note": "x" * 501},
        {"seenUpdatedAt": "2026-12-04T10:00:00Z", "note": "a\u0000b"},
        {"seenUpdatedAt": "2026-12-04T10:00:00Z", "extra": 1},
        '{"seenUpdatedAt": "2026-12-04T10:00:00Z", "note": 1e999}',  # non-finite, as raw JSON text
        '{"seenUpdatedAt": NaN}',
        '[{"seenUpdatedAt": "2026-12-04T10:00:00Z"}]',
        "not json",
    ],
)
async def test_hostile_bodies_are_refused_and_change_nothing(stack: Stack, pool: asyncpg.Pool, body: Any) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(3)], statuses=["completed"])
    message_id = await _stuck_message(pool, family, session_id)
    path = f"/api/ops/messages/{message_id}/drop"
    if isinstance(body, str):
        answer = await stack.http.post(path, headers={**ADMIN, "Content-Type": "application/json"}, content=body)
    else:
        answer = await stack.http.post(path, headers=ADMIN, json=body)
    assert answer.status_code in (400, 422), answer.text
    assert await pool.fetchval("SELECT status FROM outbound_messages WHERE id = $1", message_id) == "in_doubt"
    assert not await pool.fetchval("SELECT count(*) FROM ops_actions WHERE target_id = $1", message_id)


async def test_only_admins_and_a_missing_row_is_404(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    coach = auth(family.coach.id)
    body = {"seenUpdatedAt": now_utc().isoformat()}
    for method, path in (
        ("GET", "/api/ops/queue"),
        ("GET", "/api/ops/cancellation-requests"),
        ("GET", "/api/ops/actions"),
        ("POST", f"/api/ops/messages/{uuid4()}/resend"),
        ("POST", f"/api/ops/sessions/{uuid4()}/retry-calendar-sync"),
    ):
        refused = await stack.http.request(method, path, headers=coach, json=body if method == "POST" else None)
        assert refused.status_code == 403, (path, refused.text)
        assert (await stack.http.request(method, path)).status_code == 401
    for path in (f"/api/ops/messages/{uuid4()}/resend", f"/api/ops/sessions/{uuid4()}/retry-calendar-sync"):
        missing = await stack.http.post(path, headers=ADMIN, json=body)
        assert missing.status_code == 404, missing.text


def _cli(database_url: str, *argv: str) -> tuple[int, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "coach_sessions", "ops", *argv],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else done.stderr


async def test_the_command_line_lists_and_acts_with_the_same_rules(
    stack: Stack, pool: asyncpg.Pool, database_url: str
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(3)], statuses=["completed"])
    message_id = await _stuck_message(pool, family, session_id)
    code, listed = await asyncio.to_thread(_cli, database_url, "list")
    assert code == 0, listed
    [mine] = [m for m in listed["messages"] if m["id"] == str(message_id)]
    seen = mine["updated_at"]
    args = (str(message_id), "--seen", seen, "--admin-email", ADMIN_EMAIL, "--note", "on call")
    code, done = await asyncio.to_thread(_cli, database_url, "resend", *args)
    assert code == 0 and done["replayed"] is False and done["action"]["channel"] == "cli", done
    code, again = await asyncio.to_thread(_cli, database_url, "resend", *args)
    assert code == 0 and again["replayed"] is True, again

    async def sent() -> bool:
        return await pool.fetchval("SELECT status FROM outbound_messages WHERE id = $1", message_id) == "sent"

    assert not await sent()  # the CLI talks to PostgreSQL only: an API process's reconciler delivers it
    services = Services.build(pool, stack.env.client, settings_for(stack.task_queue))
    await services.reconciler.reconcile_due()
    await eventually(sent)
    code, refused = await asyncio.to_thread(_cli, database_url, "drop", *args)
    assert code == 1 and refused["error"] == "row_changed" and refused["current_state"] == "sent", refused
    code, nobody = await asyncio.to_thread(_cli, database_url, "drop", *args[:3], "--admin-email", "no@example.org")
    assert code == 3, nobody
    code, bad = await asyncio.to_thread(
        _cli, database_url, "drop", str(message_id), "--seen", "yesterday", "--admin-email", ADMIN_EMAIL
    )
    assert code == 2 and "ISO 8601" in bad, bad
    code, audit = await asyncio.to_thread(_cli, database_url, "actions", "--limit", "200")
    assert code == 0 and any(a["target_id"] == str(message_id) for a in audit["actions"])


async def test_the_overview_counts_each_coachs_week_and_a_cancellation_is_nobodys_miss(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool, timezone="UTC")
    now = now_utc()
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [
        monday - timedelta(days=14, hours=-9),
        monday - timedelta(days=13, hours=-9),
        now - hours(2),
        now + hours(1),
    ]
    ids = await make_sessions(pool, family, starts, statuses=["completed", "missed", "cancelled", "scheduled"])
    answer = await stack.http.get("/api/ops/overview", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    [mine] = [c for c in answer.json()["coaches"] if c["coach_id"] == str(family.coach.id)]
    assert mine["week_start"] == monday.date().isoformat()
    in_week = [monday <= s < monday + timedelta(days=7) for s in starts]  # near midnight, now ± 2 h may not be
    assert (mine["cancelled"], mine["scheduled"]) == (int(in_week[2]), int(in_week[3])), (mine, ids)
    # Four weeks: one completed, one missed, one cancelled: 1 of 2, the cancellation not counted.
    assert (mine["completed_4w"], mine["missed_4w"], mine["completion_rate_4w"]) == (1, 1, 0.5)
    assert (await stack.http.get("/api/ops/overview", headers=auth(family.coach.id))).status_code == 403


@workflow.defn(name="OpsDeskProbeFails")
class _FailingWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("probe: fails on purpose", non_retryable=True)


async def test_failed_workflows_are_listed_from_a_real_dev_servers_visibility(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The time-skipping test server cannot list workflows (the other tests see workflows_checked false);
    the dev server can: a workflow that failed is on the queue, by id and type."""
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        *temporal_command(tmp_path / "temporal.db", port=port), stdout=asyncio.subprocess.DEVNULL, stderr=PIPE
    )
    try:
        await asyncio.to_thread(wait_for_temporal, f"127.0.0.1:{port}", "default", 30)
        client = await Client.connect(f"127.0.0.1:{port}", data_converter=TEST_DATA_CONVERTER)
        queue_name = f"probe-{uuid4().hex[:8]}"
        # Unsandboxed: the sandbox would re-import this test module (and the API) to run the probe.
        async with Worker(
            client, task_queue=queue_name, workflows=[_FailingWorkflow], workflow_runner=UnsandboxedWorkflowRunner()
        ):
            handle = await client.start_workflow("OpsDeskProbeFails", id=f"probe-{uuid4()}", task_queue=queue_name)
            with pytest.raises(WorkflowFailureError):
                await handle.result()
        async with api_client(pool, client, queue_name) as http:

            async def listed() -> dict[str, Any] | None:
                queue = (await http.get("/api/ops/queue", headers=ADMIN)).json()
                assert queue["workflows_checked"] is True, queue
                return next((w for w in queue["failed_workflows"] if w["workflow_id"] == handle.id), None)

            found = await eventually(listed, within=20)
            assert found["workflow_type"] == "OpsDeskProbeFails" and found["status"] == "failed"
    finally:
        server.terminate()
        await server.wait()


async def test_an_activity_stuck_retrying_is_listed_until_an_attempt_succeeds(
    temporal_env: Any, pool: asyncpg.Pool
) -> None:
    """The worker's interceptor lists an activity once it has failed 3 attempts (its error's type only)
    and removes it when an attempt succeeds; time-skipping runs the retries' backoff."""
    from temporalio import activity

    from coach_sessions.contracts import EraseChildInput
    from coach_sessions.repositories.erasures import ErasureRepository
    from coach_sessions.temporal import child_erasure_workflow_id

    allowed = asyncio.Event()

    @activity.defn(name="record_erasure")
    async def record_erasure(request: EraseChildInput) -> None:
        if not allowed.is_set():
            raise RuntimeError("the database said no (planted: Aarav)")
        await ErasureRepository(pool).record(request.child_id, request.requested_by)

    family = await make_family(pool)
    async with running_worker(temporal_env.client, pool, replace_activities=[record_erasure]) as tq:
        async with api_client(pool, temporal_env.client, tq) as http:
            answer = await http.delete(f"/api/children/{family.child.id}", headers=ADMIN)
            assert answer.status_code == 202, answer.text
            workflow_id = child_erasure_workflow_id(family.child.id)

            async def listed() -> dict[str, Any] | None:
                await temporal_env.sleep(timedelta(seconds=20))
                queue = (await http.get("/api/ops/queue", headers=ADMIN)).json()
                return next((a for a in queue["retrying_activities"] if a["workflow_id"] == workflow_id), None)

            stuck = await eventually(listed)
            assert stuck["activity_type"] == "record_erasure" and stuck["attempt"] >= 3
            assert stuck["last_error"] == "RuntimeError"  # the type, never the message (it may name a child)
            allowed.set()
            await temporal_env.client.get_workflow_handle(workflow_id).result()
            queue = (await http.get("/api/ops/queue", headers=ADMIN)).json()
            assert not [a for a in queue["retrying_activities"] if a["workflow_id"] == workflow_id]
