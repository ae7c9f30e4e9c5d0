"""Records the saved workflow histories that ``test_replay.py`` replays (run deliberately, never in CI).

    make histories          # = pytest tests/record_histories.py --record-histories

Each scenario drives the real API, worker and workflows (time skipping, fake providers) through one
outcome and saves the history of every workflow it ran to ``tests/histories/<scenario>.<workflow>.json``.
Refresh only when a workflow change is *meant* to produce new histories (see docs/reliability.md,
"Changing workflow code"); keep the old files too while running workflows may still have them.
"""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from coach_sessions.temporal import enrollment_workflow_id, session_workflow_id
from tests.conftest import build_stack
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.fakes.aisensy import FakeAiSensy
from tests.fakes.google_calendar import FakeGoogleCalendar
from tests.helpers import ADMIN, Stack, auth, eventually
from tests.timer_support import NUDGE, REMINDER, TIMERS, sent_count, start_session_workflow
from tests.whatsapp_payloads import button_tap, cloud_envelope, post_signed

HISTORIES = Path(__file__).parent / "histories"

pytestmark = pytest.mark.skipif(
    "not config.getoption('--record-histories')", reason="records histories only when asked"
)


async def _save(stack: Stack, scenario: str, workflow_id: str, kind: str, run_id: str | None = None) -> None:
    history = await stack.env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    (HISTORIES / f"{scenario}.{kind}.json").write_text(history.to_json())


async def _quiet(pool: asyncpg.Pool, session_id: UUID) -> None:
    """Wait until every message of the session has left the outbox (side effects done)."""

    async def check() -> bool:
        return not await pool.fetchval(
            "SELECT count(*) FROM outbound_messages WHERE session_id = $1 AND status IN ('queued', 'sending')",
            session_id,
        )

    await eventually(check)


async def _family(pool: asyncpg.Pool) -> Family:
    family = await make_family(pool)
    await pool.execute("UPDATE coaches SET phone = '+919811100000' WHERE id = $1", family.coach.id)
    return family


async def _post(stack: Stack, path: str, who: dict[str, str], body: dict[str, Any], status: int = 200) -> Any:
    response = await stack.http.post(path, headers=who, json=body)
    assert response.status_code == status, response.text
    return response.json()


async def test_enrollment(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await _family(pool)
    answer = await _post(
        stack,
        "/api/enrollments",
        ADMIN,
        {
            "childId": str(family.child.id),
            "coachId": str(family.coach.id),
            "startDate": (now_utc() - timedelta(days=3)).date().isoformat(),
            "sessionTime": "17:00",
            "weekdays": ["mon", "thu"],
            "sessionCount": 3,
        },
        status=201,
    )
    await stack.env.client.get_workflow_handle(enrollment_workflow_id(answer["enrollment"]["id"])).result()
    # enrollment.enrollment.json is the history from before patches.START_SESSIONS_TOGETHER (one at a time).
    name = "enrollment_sessions_together"
    await _save(stack, name, enrollment_workflow_id(answer["enrollment"]["id"]), "enrollment")


async def _past_session(stack: Stack, pool: asyncpg.Pool) -> tuple[Family, UUID]:
    family = await _family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(2)])
    return family, session_id


async def test_session_completed(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id = await _past_session(stack, pool)
    await _post(stack, "/api/sessions/complete", auth(family.coach.id), {"sessionId": str(session_id), "notes": "ok"})
    await stack.env.client.get_workflow_handle(session_workflow_id(session_id)).result()
    await _save(stack, "session_completed", session_workflow_id(session_id), "session")


async def test_session_missed(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id = await _past_session(stack, pool)
    body = {"sessionId": str(session_id), "notifyParent": True, "notes": "no show"}
    await _post(stack, "/api/sessions/missed", auth(family.coach.id), body)
    await stack.env.client.get_workflow_handle(session_workflow_id(session_id)).result()
    await _save(stack, "session_missed", session_workflow_id(session_id), "session")


async def test_session_timer_reschedule_then_complete(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await _family(pool)
    [first, second] = await make_sessions(pool, family, [now_utc() + hours(1), now_utc() + hours(30)])
    who = auth(family.coach.id)
    new_day = (now_utc() + timedelta(days=3)).date().isoformat()
    await stack.http.patch(
        "/api/sessions", headers=who, json={"sessionId": str(second), "newDate": new_day, "newTime": "10:00"}
    )
    await _post(stack, "/api/sessions/complete", who, {"sessionId": str(first)}, status=409)  # not started
    await stack.env.sleep(hours(3))  # the first one's end passes: pending
    await eventually(lambda: pool.fetchval("SELECT status = 'pending' FROM scheduled_sessions WHERE id=$1", first))
    await _post(stack, "/api/sessions/complete", who, {"sessionId": str(first)})
    await stack.env.client.get_workflow_handle(session_workflow_id(first)).result()
    await _save(stack, "session_pending_then_completed", session_workflow_id(first), "session")
    await _save(stack, "session_rescheduled", session_workflow_id(second), "session")


async def test_session_admin_cancel(stack: Stack, pool: asyncpg.Pool) -> None:
    _, session_id = await _past_session(stack, pool)
    response = await stack.http.delete(
        "/api/sessions", headers=ADMIN, params={"sessionId": str(session_id), "reason": "programme paused"}
    )
    assert response.status_code == 200, response.text
    await stack.env.client.get_workflow_handle(session_workflow_id(session_id)).result()
    await _save(stack, "session_admin_cancelled", session_workflow_id(session_id), "session")


async def _requested(stack: Stack, pool: asyncpg.Pool) -> tuple[Family, UUID, str, str]:
    family = await _family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(96)])
    answer = await _post(
        stack,
        "/api/sessions/request-cancel",
        auth(family.coach.id),
        {"sessionId": str(session_id), "reason": "Coach is unwell"},
        status=202,
    )

    async def sent() -> str | None:
        return await pool.fetchval(
            "SELECT provider_message_id FROM outbound_messages WHERE session_id = $1"
            " AND template_name = 'p26_cancellation_request' AND status = 'sent'",
            session_id,
        )

    return family, session_id, await eventually(sent), answer["session"]["consent_workflow_id"]


async def _save_consent(stack: Stack, pool: asyncpg.Pool, scenario: str, session_id: UUID, consent_id: str) -> None:
    await stack.env.client.get_workflow_handle(consent_id).result()
    await eventually(  # the session workflow has applied the decision
        lambda: pool.fetchval(
            "SELECT cancellation_status <> 'pending' FROM scheduled_sessions WHERE id = $1", session_id
        )
    )
    await _quiet(pool, session_id)
    if await pool.fetchval("SELECT status = 'cancelled' FROM scheduled_sessions WHERE id = $1", session_id):
        await stack.env.client.get_workflow_handle(session_workflow_id(session_id)).result()
    await _save(stack, scenario, consent_id, "consent")
    await _save(stack, scenario, session_workflow_id(session_id), "session")


@pytest.mark.parametrize("choice", ["Approve", "Reschedule"])
async def test_consent_parent_taps(stack: Stack, pool: asyncpg.Pool, choice: str) -> None:
    family, session_id, provider_id, consent_id = await _requested(stack, pool)
    await post_signed(stack.http, cloud_envelope(button_tap(family.parent.phone, choice, context_id=provider_id)))
    scenario = "consent_approved" if choice == "Approve" else "consent_rejected"
    await _save_consent(stack, pool, scenario, session_id, consent_id)


async def test_consent_call_me_then_auto_approve(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, provider_id, consent_id = await _requested(stack, pool)
    await post_signed(stack.http, cloud_envelope(button_tap(family.parent.phone, "Call Me", context_id=provider_id)))
    await _quiet(pool, session_id)
    await stack.env.sleep(hours(49))
    await _save_consent(stack, pool, "consent_call_me_then_auto", session_id, consent_id)
    # A tap after the decision: the parent is told through an OutboxDeliveryWorkflow.
    answer = await post_signed(
        stack.http, cloud_envelope(button_tap(family.parent.phone, "Reschedule", context_id=provider_id))
    )
    assert answer.json()["status"] == "late"
    late_id = await eventually(
        lambda: pool.fetchval(
            "SELECT id FROM outbound_messages WHERE session_id = $1 AND template_name = $2 AND status = 'sent'",
            session_id,
            "p28_cancellation_already_decided",
        )
    )
    await stack.env.client.get_workflow_handle(f"deliver-{late_id}").result()
    await _save(stack, "outbox_late_notice", f"deliver-{late_id}", "outbox")


async def test_consent_withdrawn(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, _, consent_id = await _requested(stack, pool)
    await _post(stack, "/api/sessions/withdraw-cancel", auth(family.coach.id), {"sessionId": str(session_id)})
    await _save_consent(stack, pool, "consent_withdrawn", session_id, consent_id)


async def test_consent_admin_decides(stack: Stack, pool: asyncpg.Pool) -> None:
    _, session_id, _, consent_id = await _requested(stack, pool)
    await _post(stack, "/api/sessions/decide-cancel", ADMIN, {"sessionId": str(session_id), "decision": "approve"})
    await _save_consent(stack, pool, "consent_admin_approved", session_id, consent_id)


# ----- timers (patches.SESSION_TIMERS): reminders, a nudge, continue-as-new ------------------------------


@pytest.fixture
async def timed(
    pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    fake_google_calendar: FakeGoogleCalendar,
    fake_aisensy: FakeAiSensy,
) -> AsyncIterator[Stack]:
    async with build_stack(pool, temporal_env, fake_google_calendar, fake_aisensy, timers=TIMERS) as stack:
        yield stack


async def _move(stack: Stack, session_id: UUID, at: datetime) -> datetime:
    local = at.astimezone(ZoneInfo("Asia/Kolkata"))
    body = {"sessionId": str(session_id), "newDate": local.date().isoformat(), "newTime": local.strftime("%H:%M")}
    answer = await _post_patch(stack, body)
    return datetime.fromisoformat(answer["session"]["scheduled_at"])


async def _post_patch(stack: Stack, body: dict[str, Any]) -> Any:
    response = await stack.http.patch("/api/sessions", headers=ADMIN, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def _until(stack: Stack, at: datetime) -> None:
    await stack.env.sleep(max(at - await stack.env.get_current_time(), timedelta(seconds=1)))


async def test_session_reminders(timed: Stack, pool: asyncpg.Pool) -> None:
    """24 h reminder sent, rescheduled (new reminders), both sent, pending, completed."""
    family = await _family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(26)])
    handle = await start_session_workflow(timed, session_id)
    await timed.env.sleep(hours(2) + timedelta(minutes=1))
    await sent_count(pool, session_id, REMINDER, 1)
    new_at = await _move(timed, session_id, (await timed.env.get_current_time() + hours(50)).replace(minute=0))
    await _until(timed, new_at + timedelta(minutes=50))
    await sent_count(pool, session_id, REMINDER, 3)
    await _post(timed, "/api/sessions/complete", auth(family.coach.id), {"sessionId": str(session_id)})
    await handle.result()
    await _save(timed, "session_reminders_sent", handle.id, "session")


async def test_session_nudge(timed: Stack, pool: asyncpg.Pool) -> None:
    """Pending since its end: two nudges to the coach, then marked missed."""
    family = await _family(pool)
    [session_id, _] = await make_sessions(pool, family, [now_utc() - hours(2), now_utc() + hours(24 * 7)])
    handle = await start_session_workflow(timed, session_id)
    await timed.env.sleep(hours(36))
    await sent_count(pool, session_id, NUDGE, 2)
    body = {"sessionId": str(session_id), "notifyParent": False}
    await _post(timed, "/api/sessions/missed", auth(family.coach.id), body)
    await handle.result()
    await _save(timed, "session_nudge_sent", handle.id, "session")


async def test_session_continue_as_new(timed: Stack, pool: asyncpg.Pool) -> None:
    """Reschedules and reminders past a lowered history threshold: the first run and the last."""
    family = await _family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(24 * 20)])
    timers = TIMERS.model_copy(update={"continue_as_new_after_events": 40})
    handle = await start_session_workflow(timed, session_id, timers)
    for n in range(1, 5):
        new_at = await _move(timed, session_id, (await timed.env.get_current_time() + hours(31)).replace(minute=0))
        await _until(timed, new_at - hours(24) + timedelta(minutes=1))
        await sent_count(pool, session_id, REMINDER, n)
    await _until(timed, new_at + timedelta(minutes=50))
    await _post(timed, "/api/sessions/complete", auth(family.coach.id), {"sessionId": str(session_id)})
    await handle.result()
    assert handle.result_run_id is not None
    await _save(timed, "session_continued_as_new_first_run", handle.id, "session", run_id=handle.result_run_id)
    await _save(timed, "session_continued_as_new_last_run", handle.id, "session")


async def test_retention(stack: Stack, pool: asyncpg.Pool) -> None:
    """One retention run: its purge, its day's timer, and the continue-as-new that ends it."""
    from coach_sessions.retention import RETENTION_WORKFLOW_ID, ensure_retention_workflow
    from tests.helpers import test_settings as settings_for

    await ensure_retention_workflow(stack.env.client, settings_for(stack.task_queue))
    handle = stack.env.client.get_workflow_handle(RETENTION_WORKFLOW_ID)
    first_run = (await handle.describe()).run_id
    await stack.env.sleep(timedelta(hours=25))

    async def continued() -> bool:
        return (await handle.describe()).run_id != first_run

    await eventually(continued)
    await _save(stack, "retention_continued_as_new", RETENTION_WORKFLOW_ID, "retention", run_id=first_run)
    await handle.terminate("recorded")


async def test_child_erased(stack: Stack, pool: asyncpg.Pool) -> None:
    """An erasure: a child enrolled (its session workflows running) and erased through the API."""
    from coach_sessions.temporal import child_erasure_workflow_id

    family = await _family(pool)
    body = {
        "childId": str(family.child.id),
        "coachId": str(family.coach.id),
        "startDate": (now_utc() - timedelta(days=1)).date().isoformat(),
        "sessionTime": "17:00",
        "weekdays": ["mon", "thu"],
        "sessionCount": 2,
    }
    answer = await _post(stack, "/api/enrollments", ADMIN, body, status=201)
    await stack.env.client.get_workflow_handle(enrollment_workflow_id(answer["enrollment"]["id"])).result()
    erased = await stack.http.delete(f"/api/children/{family.child.id}", headers=ADMIN)
    assert erased.status_code == 202, erased.text
    workflow_id = child_erasure_workflow_id(family.child.id)
    await stack.env.client.get_workflow_handle(workflow_id).result()
    await _save(stack, "child_erased", workflow_id, "erasure")


async def test_child_reassigned(stack: Stack, pool: asyncpg.Pool) -> None:
    """A reassignment: a child enrolled (events on the old coach's calendar) and moved through the API."""
    from coach_sessions.temporal import reassignment_workflow_id

    family, new_coach = await _family(pool), (await make_family(pool)).coach
    body = {
        "childId": str(family.child.id),
        "coachId": str(family.coach.id),
        "startDate": (now_utc() + timedelta(days=1)).date().isoformat(),
        "sessionTime": "17:00",
        "weekdays": ["mon", "thu"],
        "sessionCount": 2,
    }
    answer = await _post(stack, "/api/enrollments", ADMIN, body, status=201)
    await stack.env.client.get_workflow_handle(enrollment_workflow_id(answer["enrollment"]["id"])).result()

    async def synced() -> bool:
        return not await pool.fetchval(
            "SELECT count(*) FROM scheduled_sessions WHERE child_id = $1 AND google_event_id IS NULL", family.child.id
        )

    await eventually(synced)
    moved = await _post(
        stack, f"/api/children/{family.child.id}/reassign", ADMIN, {"coachId": str(new_coach.id)}, status=202
    )
    workflow_id = reassignment_workflow_id(moved["id"])
    await stack.env.client.get_workflow_handle(workflow_id).result()
    await _save(stack, "child_reassigned", workflow_id, "reassignment")
