"""Consistency under faults, in process: a bounded wait, no late application, retry-safe keys, the
database outage that used to split state, readiness without a worker, a failed consent child."""

import asyncio
import time
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.sessions import SessionActivities
from coach_sessions.contracts import (
    ConsentDecision,
    ConsentInput,
    SessionAction,
    SessionWorkflowResult,
    TransitionRequest,
    TransitionResult,
)
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.templates import SESSION_SUMMARY
from coach_sessions.temporal import session_workflow_id
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import Stack, api_client, auth, eventually, running_worker
from workflows.session import SessionWorkflow

BOUND = timedelta(seconds=1)


async def _state(pool: asyncpg.Pool, session_id: UUID) -> tuple[str, int, int]:
    row = await pool.fetchrow("SELECT status, version FROM scheduled_sessions WHERE id = $1", session_id)
    events = await pool.fetchval("SELECT count(*) FROM learning_events WHERE session_id = $1", session_id)
    return row["status"], row["version"], events


async def test_no_worker_answers_503_in_time_and_the_action_is_never_applied_later(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(3)], statuses=["pending"])
    task_queue = f"test-{uuid4()}"
    who = auth(family.coach.id)
    body = {"sessionId": str(session_id)}
    async with api_client(pool, temporal_env.client, task_queue, action_answer_within=BOUND) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["worker"].startswith("unavailable")
        started = time.monotonic()
        refused = await http.post("/api/sessions/complete", headers=who, json=body)
        waited = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "temporarily_unavailable"
        assert refused.headers["Retry-After"] == "5"
        assert waited < BOUND.total_seconds() + 1.0
        before = await _state(pool, session_id)
        async with running_worker(temporal_env.client, pool, task_queue=task_queue):
            handle = temporal_env.client.get_workflow_handle(
                session_workflow_id(session_id), result_type=SessionWorkflowResult
            )
            # The worker takes the late update, refuses it (past its deadline) and carries on.
            await eventually(lambda: handle.query(SessionWorkflow.session))
            await asyncio.sleep(0.5)
            assert await _state(pool, session_id) == before == ("pending", 1, 0)
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            # A retry with a key is applied once; repeating it returns the first answer, not a 409.
            keyed = who | {"Idempotency-Key": "complete-" + str(session_id)}
            first = await http.post("/api/sessions/complete", headers=keyed, json=body)
            again = await http.post("/api/sessions/complete", headers=keyed, json=body)
            assert (first.status_code, again.status_code) == (200, 200), again.text
            assert again.json() == first.json()
            assert await _state(pool, session_id) == ("completed", 2, 1)
            other = await http.post("/api/sessions/missed", headers=keyed, json=body | {"notifyParent": False})
            assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"


async def test_a_commit_whose_answer_was_lost_is_found_by_the_retry_and_the_workflow_agrees(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    """The split state: the transaction commits, then the database vanishes before the activity can
    answer. The workflow keeps trying until it learns its own commit (not 5 quick attempts), the
    caller's retry with the same key gets that commit, and the parent's summary goes out once."""
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(3)], statuses=["pending"])
    real = SessionActivities(SessionRepository(pool))
    lost_answers = 0

    @activity.defn(name="apply_transition")
    async def apply_transition(request: TransitionRequest) -> TransitionResult:
        nonlocal lost_answers
        result = await real.apply_transition(request)
        if request.action is SessionAction.COMPLETE and lost_answers < 6:  # more than the old 5 attempts
            lost_answers += 1
            raise ConnectionResetError("the database connection was lost")
        return result

    async with running_worker(
        stack.env.client,
        pool,
        whatsapp=stack.whatsapp,
        task_queue=f"split-{session_id}",
        replace_activities=[apply_transition],
    ) as task_queue:
        async with api_client(pool, stack.env.client, task_queue, action_answer_within=BOUND) as http:
            keyed = auth(family.coach.id) | {"Idempotency-Key": f"k-{session_id}"}
            body = {"sessionId": str(session_id), "notes": "read a whole chapter"}
            first = await http.post("/api/sessions/complete", headers=keyed, json=body)
            assert first.status_code == 503, first.text  # the answer did not come back in time
            retry = await http.post("/api/sessions/complete", headers=keyed, json=body)
            assert retry.status_code == 200, retry.text
            assert retry.json()["session"]["status"] == "completed"
            handle = stack.env.client.get_workflow_handle(
                session_workflow_id(session_id), result_type=SessionWorkflowResult
            )
            assert (await handle.result()).final_status == "completed"  # the workflow holds what the row holds
    assert lost_answers == 6
    assert await _state(pool, session_id) == ("completed", 2, 1)

    async def summaries() -> list[Any]:
        return [m for m in stack.aisensy.messages if m["campaignName"] == SESSION_SUMMARY]

    assert len(await eventually(summaries)) == 1


@workflow.defn(name="CancellationConsentWorkflow", sandboxed=False)  # defined beside test I/O
class BrokenConsentWorkflow:
    """Stands in for a consent workflow that fails (a bug, a step that cannot succeed)."""

    @workflow.run
    async def run(self, request: ConsentInput) -> ConsentDecision:
        raise ApplicationError("the consent process broke", non_retryable=True)


async def test_a_failed_consent_child_withdraws_the_request(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(72)])
    workflows = [SessionWorkflow, BrokenConsentWorkflow]
    async with running_worker(stack.env.client, pool, workflows=workflows) as task_queue:
        async with api_client(pool, stack.env.client, task_queue) as http:
            answer = await http.post(
                "/api/sessions/request-cancel",
                headers=auth(family.coach.id),
                json={"sessionId": str(session_id), "reason": "Coach is unwell"},
            )
            assert answer.status_code == 202, answer.text

            async def lapsed() -> dict[str, Any] | None:
                row = await pool.fetchrow("SELECT * FROM scheduled_sessions WHERE id = $1", session_id)
                return dict(row) if row["cancellation_status"] == "none" else None

            row = await eventually(lapsed)
            # The session takes actions again (they were refused while the request was pending).
            moved = await http.patch(
                "/api/sessions",
                headers=auth(family.coach.id),
                json={
                    "sessionId": str(session_id),
                    "newDate": (now_utc() + hours(96)).date().isoformat(),
                    "newTime": "10:00",
                },
            )
            assert moved.status_code == 200, moved.text
    assert row["cancellation_decided_by"] == "system" and row["status"] == "scheduled"
    events = await pool.fetch(
        "SELECT event_type, content_for_embedding FROM learning_events WHERE session_id = $1 ORDER BY created_at",
        session_id,
    )
    assert [e["event_type"] for e in events] == [
        "cancellation_requested",
        "cancellation_withdrawn",
        "session_rescheduled",
    ]
    assert "consent process failed" in events[1]["content_for_embedding"]


async def test_a_calendar_sync_of_an_older_version_does_not_mark_the_session_synced(pool: asyncpg.Pool) -> None:
    """A sync that read the session before a reschedule or cancel must not hide that change."""
    family = await make_family(pool)
    start = now_utc() + hours(30)
    [session_id] = await make_sessions(pool, family, [start])
    await pool.execute("UPDATE scheduled_sessions SET calendar_sync_status = 'pending' WHERE id = $1", session_id)
    repo = SessionRepository(pool)
    stale = {"scheduled_at": start - hours(24), "status": "scheduled"}
    await repo.record_calendar_event(session_id, google_event_id="evt1", meet_link="https://meet", synced=stale)
    row = await pool.fetchrow("SELECT * FROM scheduled_sessions WHERE id = $1", session_id)
    assert (row["calendar_sync_status"], row["google_event_id"]) == ("pending", "evt1")
    current = {"scheduled_at": start, "status": "scheduled"}
    await repo.record_calendar_event(session_id, google_event_id="evt1", meet_link=None, synced=current)
    row = await pool.fetchrow("SELECT * FROM scheduled_sessions WHERE id = $1", session_id)
    assert (row["calendar_sync_status"], row["meet_link"]) == ("synced", "https://meet")
