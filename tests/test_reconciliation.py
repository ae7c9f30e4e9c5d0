"""A workflow that missed an update is brought back to its row (api/services/reconciler.py).

The split these tests build is the one a Temporal server killed mid-action leaves: the transition's
transaction committed in PostgreSQL, but the update never reached history, so the workflow still holds
the session as it was. ``run_transition`` commits exactly that transaction without the workflow.
"""

import functools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from temporalio.client import WorkflowExecutionStatus

from activities.sessions import run_transition
from api.services import Services
from coach_sessions.contracts import (
    Actor,
    EnrollmentWorkflowResult,
    SessionAction,
    SessionWorkflowInput,
    SessionWorkflowResult,
    TransitionRequest,
)
from coach_sessions.models import EnrollmentPlan
from coach_sessions.repositories.enrollments import EnrollmentRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.templates import CANCELLATION_REQUEST, SESSION_SUMMARY
from coach_sessions.temporal import enrollment_workflow_id, session_workflow_id
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import Stack, api_client, auth, eventually
from tests.helpers import test_settings as settings_for
from workflows.session import SessionWorkflow


def _services(pool: asyncpg.Pool, stack: Stack) -> Services:
    return Services.build(pool, stack.env.client, settings_for(stack.task_queue))


async def _running_session(pool: asyncpg.Pool, stack: Stack, status: str = "pending") -> tuple[Family, UUID]:
    family = await make_family(pool)
    start = now_utc() - hours(3) if status == "pending" else now_utc() + timedelta(days=3)
    [session_id] = await make_sessions(pool, family, [start], statuses=[status])
    handle = await stack.env.client.start_workflow(
        SessionWorkflow.run,
        SessionWorkflowInput(session_id=session_id),
        id=session_workflow_id(session_id),
        task_queue=stack.task_queue,
    )
    await eventually(lambda: handle.query(SessionWorkflow.session))
    return family, session_id


async def _commit_behind_the_workflow(
    pool: asyncpg.Pool, family: Family, session_id: UUID, action: SessionAction, **fields: Any
) -> None:
    """The transaction of an update whose history event was lost with the Temporal server."""
    await run_transition(
        SessionRepository(pool),
        TransitionRequest(
            session_id=session_id,
            action=action,
            request_id=f"lost-{uuid4()}",
            actor=Actor(id=family.coach.id, role="coach"),
            now=datetime.now(UTC),
            **fields,
        ),
    )


async def _workflow_view(stack: Stack, session_id: UUID) -> Any:
    return await stack.env.client.get_workflow_handle(session_workflow_id(session_id)).query(SessionWorkflow.session)


async def _row(pool: asyncpg.Pool, session_id: UUID) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT status, cancellation_status, version, consent_workflow_id FROM scheduled_sessions WHERE id = $1",
        session_id,
    )


async def _messages(pool: asyncpg.Pool, session_id: UUID) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT template_name, status FROM outbound_messages WHERE session_id = $1 ORDER BY created_at", session_id
    )
    return [(r["template_name"], r["status"]) for r in rows]


async def test_a_lost_complete_is_caught_up_the_workflow_ends_and_the_summary_goes_out(
    pool: asyncpg.Pool, stack: Stack
) -> None:
    family, session_id = await _running_session(pool, stack)
    await _commit_behind_the_workflow(pool, family, session_id, SessionAction.COMPLETE, notes="read well")
    assert (await _workflow_view(stack, session_id)).status == "pending"  # the split
    services = _services(pool, stack)
    await services.reconciler._repository.request("session", session_id)
    await services.reconciler.reconcile_due()
    handle = stack.env.client.get_workflow_handle(session_workflow_id(session_id), result_type=SessionWorkflowResult)
    result = await handle.result()
    assert result.final_status == "completed"
    await eventually(lambda: _sent(pool, session_id, SESSION_SUMMARY))
    assert not await _asked(pool, session_id)


async def _sent(pool: asyncpg.Pool, session_id: UUID, template: str) -> bool:
    return (template, "sent") in await _messages(pool, session_id)


async def test_a_lost_request_cancel_gets_its_consent_workflow_and_a_way_out(pool: asyncpg.Pool, stack: Stack) -> None:
    family, session_id = await _running_session(pool, stack, status="scheduled")
    await _commit_behind_the_workflow(
        pool, family, session_id, SessionAction.REQUEST_CANCELLATION, reason="ill", consent_window=hours(48)
    )
    assert (await _workflow_view(stack, session_id)).cancellation_status == "none"  # the split
    services = _services(pool, stack)
    await services.reconciler._repository.request("session", session_id)
    await services.reconciler.reconcile_due()
    row = await _row(pool, session_id)
    assert (await _workflow_view(stack, session_id)).version == row["version"]
    consent = await stack.env.client.get_workflow_handle(row["consent_workflow_id"]).describe()
    assert consent.status == WorkflowExecutionStatus.RUNNING
    await eventually(lambda: _sent(pool, session_id, CANCELLATION_REQUEST))
    # The coach can take the request back: the session is not stuck.
    withdrawn = await stack.http.post(
        "/api/sessions/withdraw-cancel", headers=auth(family.coach.id), json={"sessionId": str(session_id)}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["session"]["cancellation_status"] == "none"


async def test_a_lost_reschedule_moves_the_calendar_event(pool: asyncpg.Pool, stack: Stack) -> None:
    family, session_id = await _running_session(pool, stack, status="scheduled")
    new_at = now_utc().replace(microsecond=0) + timedelta(days=5)
    await _commit_behind_the_workflow(pool, family, session_id, SessionAction.RESCHEDULE, new_scheduled_at=new_at)
    services = _services(pool, stack)
    await services.reconciler._repository.request("session", session_id)
    await services.reconciler.reconcile_due()
    view = await _workflow_view(stack, session_id)
    assert (view.status, view.scheduled_at) == ("rescheduled", new_at)

    async def synced() -> bool:
        status = await pool.fetchval("SELECT calendar_sync_status FROM scheduled_sessions WHERE id = $1", session_id)
        return bool(status == "synced")

    await eventually(synced)


async def test_reconciling_a_workflow_that_agrees_changes_nothing(pool: asyncpg.Pool, stack: Stack) -> None:
    _, session_id = await _running_session(pool, stack)
    before = await _row(pool, session_id)
    services = _services(pool, stack)
    for _ in range(2):
        await services.reconciler._repository.request("session", session_id)
        await services.reconciler.reconcile_due()
    assert await _row(pool, session_id) == before
    assert (await _workflow_view(stack, session_id)).version == before["version"]
    assert await _messages(pool, session_id) == []


async def test_an_action_without_an_answer_asks_for_its_session_to_be_reconciled(
    pool: asyncpg.Pool, stack: Stack
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(3)], statuses=["pending"])
    # No worker polls this queue: the update gets no answer within the bound.
    async with api_client(
        pool, stack.env.client, f"nobody-{uuid4()}", action_answer_within=timedelta(seconds=1)
    ) as http:
        refused = await http.post(
            "/api/sessions/complete", headers=auth(family.coach.id), json={"sessionId": str(session_id)}
        )
    assert refused.status_code == 503, refused.text
    kinds = await pool.fetch("SELECT kind FROM workflow_reconciliations WHERE target_id = $1", session_id)
    assert [r["kind"] for r in kinds] == ["session"]
    await pool.execute("DELETE FROM workflow_reconciliations WHERE target_id = $1", session_id)


@pytest.mark.parametrize("api_started_it", [False, True])
async def test_an_enrollment_whose_workflow_never_started_is_started_by_the_reconciler(
    pool: asyncpg.Pool, stack: Stack, api_started_it: bool
) -> None:
    family = await make_family(pool)
    plan = EnrollmentPlan(
        child_id=family.child.id,
        coach_id=family.coach.id,
        start_date=(now_utc() + timedelta(days=2)).date(),
        session_time=datetime.strptime("17:00", "%H:%M").time(),
        weekdays=["tue"],
        session_count=2,
        duration_minutes=45,
    )
    # What the API commits before it starts the workflow (then the Temporal server or the API died).
    enrollment, created = await EnrollmentRepository(pool).create_with_sessions(plan, now=now_utc())
    assert created
    services = _services(pool, stack)
    await services.reconciler.reconcile_due()
    assert await _asked(pool, enrollment.id)  # within the API's own grace: not yet
    if api_started_it:
        await services.enrollments.enroll(plan)  # the API's repeat of the POST starts it and forgets
        assert not await _asked(pool, enrollment.id)
        return
    await pool.execute("UPDATE workflow_reconciliations SET due_at = now() WHERE target_id = $1", enrollment.id)
    await services.reconciler.reconcile_due()
    assert not await _asked(pool, enrollment.id)
    started = stack.env.client.get_workflow_handle(
        enrollment_workflow_id(enrollment.id), result_type=EnrollmentWorkflowResult
    )
    result = await started.result()
    assert len(result.session_ids) == 2
    for session_id in result.session_ids:
        await eventually(functools.partial(_workflow_view, stack, session_id))


async def _asked(pool: asyncpg.Pool, target_id: UUID) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM workflow_reconciliations WHERE target_id = $1", target_id))
