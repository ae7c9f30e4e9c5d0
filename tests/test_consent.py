"""Parent consent for a coach's cancellation: every outcome exactly once (time skipping)."""

import asyncio
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, Stack, api_client, auth, eventually, quiescent, running_worker
from tests.whatsapp_payloads import aisensy_envelope, button_tap, cloud_envelope, post_signed

WINDOW = timedelta(hours=48)


async def _session(pool: asyncpg.Pool, session_id: UUID) -> dict[str, Any]:
    return dict(await pool.fetchrow("SELECT * FROM scheduled_sessions WHERE id = $1", session_id))


async def _events(pool: asyncpg.Pool, session_id: UUID) -> list[str]:
    return [
        r["event_type"]
        for r in await pool.fetch(
            "SELECT event_type FROM learning_events WHERE session_id = $1 ORDER BY created_at, event_type",
            session_id,
        )
    ]


async def _templates(pool: asyncpg.Pool, session_id: UUID) -> list[str]:
    return [
        r["template_name"]
        for r in await pool.fetch(
            "SELECT template_name FROM outbound_messages WHERE session_id = $1 ORDER BY created_at, template_name",
            session_id,
        )
    ]


async def _request(stack: Stack, pool: asyncpg.Pool, *, days_ahead: int = 4) -> tuple[Family, UUID, str]:
    """A coach requests cancelling a future session; returns the provider id of the p26 message."""
    family = await make_family(pool)
    await pool.execute("UPDATE coaches SET phone = '+919811100000' WHERE id = $1", family.coach.id)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(24 * days_ahead)])
    response = await stack.http.post(
        "/api/sessions/request-cancel",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "reason": "Coach has a family emergency"},
    )
    assert response.status_code == 202, response.text
    session = response.json()["session"]
    assert session["cancellation_status"] == "pending"
    assert session["cancellation_reason"] == "Coach has a family emergency"
    requested = datetime.fromisoformat(session["cancellation_requested_at"])
    assert datetime.fromisoformat(session["cancellation_expires_at"]) - requested == WINDOW

    async def sent() -> str | None:
        return await pool.fetchval(
            "SELECT provider_message_id FROM outbound_messages WHERE session_id = $1"
            " AND template_name = 'p26_cancellation_request' AND status = 'sent'",
            session_id,
        )

    provider_id = await eventually(sent)
    row = await _session(pool, session_id)
    assert row["cancellation_message_id"] is not None  # the request knows its message
    [request_message] = [m for m in stack.aisensy.messages if m["campaignName"] == "p26_cancellation_request"]
    assert request_message["destination"] == family.parent.phone
    assert "Coach has a family emergency" in request_message["templateParams"]
    return family, session_id, provider_id


async def _settled(pool: asyncpg.Pool, session_id: UUID, status: str, within: float = 10.0) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        row = await _session(pool, session_id)
        pending = await pool.fetchval(
            "SELECT count(*) FROM outbound_messages WHERE session_id = $1 AND status IN ('queued', 'sending')",
            session_id,
        )
        return row if row["cancellation_status"] == status and pending == 0 else None

    return await eventually(check, within=within)  # type: ignore[no-any-return]


async def test_parent_approves(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, provider_id = await _request(stack, pool)
    response = await post_signed(
        stack.http, cloud_envelope(button_tap(family.parent.phone, "Approve", context_id=provider_id))
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "signalled"
    row = await _settled(pool, session_id, "approved")
    assert row["status"] == "cancelled" and row["cancellation_decided_by"] == "parent"
    assert row["coach_notes"] == "Coach has a family emergency"
    assert await _events(pool, session_id) == ["cancellation_requested", "session_cancelled"]
    event_data = await pool.fetchval(
        "SELECT event_data FROM learning_events WHERE session_id = $1 AND event_type = 'session_cancelled'",
        session_id,
    )
    assert event_data["approved_by"] == "parent"
    assert await _templates(pool, session_id) == ["p26_cancellation_request", "c01_cancellation_approved"]
    await eventually(lambda: _calendar_cleared(stack, session_id))


async def _calendar_cleared(stack: Stack, session_id: UUID) -> bool:
    return all(event_id != session_id.hex for _, event_id in stack.calendar.live_events())


async def test_parent_asks_for_a_new_time(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, _ = await _request(stack, pool)
    # AiSensy envelope without context: matched by the parent's phone (their one pending request)
    response = await post_signed(
        stack.http, aisensy_envelope(button_tap(family.parent.phone, "Reschedule", context_id=None))
    )
    assert response.json()["status"] == "signalled", response.text
    row = await _settled(pool, session_id, "rejected")
    assert row["status"] == "scheduled" and row["cancellation_decided_by"] == "parent"
    assert await _events(pool, session_id) == ["cancellation_requested", "cancellation_rejected"]
    assert sorted(await _templates(pool, session_id)) == [
        "c02_cancellation_rejected",
        "p26_cancellation_request",
    ]


async def test_call_me_notifies_the_coach_and_the_timer_runs_on(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, provider_id = await _request(stack, pool)
    response = await post_signed(
        stack.http, cloud_envelope(button_tap(family.parent.phone, "Call Me", context_id=provider_id))
    )
    assert response.json()["status"] == "signalled"

    def delivered() -> list[dict[str, Any]]:
        return [m for m in stack.aisensy.messages if m["campaignName"] == "c03_parent_callback_requested"]

    async def coach_told() -> bool:
        # Delivered, not only queued: the outbox row is written before the provider is called.
        return "c03_parent_callback_requested" in await _templates(pool, session_id) and bool(delivered())

    await eventually(coach_told)
    assert (await _session(pool, session_id))["cancellation_status"] == "pending"
    callback = delivered()
    assert callback[0]["destination"] == "+919811100000" and family.parent.phone in callback[0]["templateParams"]
    await stack.env.sleep(WINDOW)
    row = await _settled(pool, session_id, "approved")
    assert row["cancellation_decided_by"] == "auto" and row["status"] == "cancelled"


async def test_no_answer_auto_approves_after_48_hours(stack: Stack, pool: asyncpg.Pool) -> None:
    _, session_id, _ = await _request(stack, pool)
    await stack.env.sleep(WINDOW - timedelta(minutes=5))
    assert (await _session(pool, session_id))["cancellation_status"] == "pending"
    await stack.env.sleep(timedelta(minutes=10))
    row = await _settled(pool, session_id, "approved")
    assert row["cancellation_decided_by"] == "auto" and row["status"] == "cancelled"
    data = await pool.fetchval(
        "SELECT event_data FROM learning_events WHERE session_id = $1 AND event_type = 'session_cancelled'",
        session_id,
    )
    assert data["approved_by"] == "auto"


async def test_tap_at_47h59m_beats_the_timer(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, provider_id = await _request(stack, pool)
    await stack.env.sleep(WINDOW - timedelta(minutes=1))
    response = await post_signed(
        stack.http, cloud_envelope(button_tap(family.parent.phone, "Reschedule", context_id=provider_id))
    )
    assert response.json()["status"] == "signalled"
    row = await _settled(pool, session_id, "rejected")
    await stack.env.sleep(timedelta(hours=1))  # the timer's moment passes: nothing more happens
    assert (await _session(pool, session_id))["version"] == row["version"]
    assert await _events(pool, session_id) == ["cancellation_requested", "cancellation_rejected"]


async def test_tap_after_the_timer_changes_nothing_and_tells_the_parent(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, provider_id = await _request(stack, pool)
    await stack.env.sleep(WINDOW + timedelta(minutes=1))
    row = await _settled(pool, session_id, "approved")
    response = await post_signed(
        stack.http, cloud_envelope(button_tap(family.parent.phone, "Reschedule", context_id=provider_id))
    )
    assert response.json()["status"] == "late"

    async def told() -> bool:
        return (
            await pool.fetchval(
                "SELECT status FROM outbound_messages WHERE session_id = $1"
                " AND template_name = 'p28_cancellation_already_decided'",
                session_id,
            )
            == "sent"
        )

    await eventually(told)
    late = [m for m in stack.aisensy.messages if m["campaignName"] == "p28_cancellation_already_decided"]
    assert len(late) == 1 and "the session was cancelled" in late[0]["templateParams"]
    after = await _session(pool, session_id)
    assert after["version"] == row["version"] and after["cancellation_decided_by"] == "auto"


async def test_ten_duplicate_deliveries_make_one_outcome(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, provider_id = await _request(stack, pool)
    tap = cloud_envelope(button_tap(family.parent.phone, "Approve", context_id=provider_id))
    responses = await asyncio.gather(*(post_signed(stack.http, tap) for _ in range(10)))
    assert all(r.status_code == 200 for r in responses)
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses.count("signalled") == 1 and statuses.count("duplicate") == 9
    await _settled(pool, session_id, "approved")
    await stack.env.sleep(timedelta(hours=49))
    assert await _events(pool, session_id) == ["cancellation_requested", "session_cancelled"]
    assert await _templates(pool, session_id) == ["p26_cancellation_request", "c01_cancellation_approved"]
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages WHERE matched_session_id = $1", session_id) == 1


async def test_withdraw_and_approve_together_make_one_outcome(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, provider_id = await _request(stack, pool)
    withdraw, tap = await asyncio.gather(
        stack.http.post(
            "/api/sessions/withdraw-cancel",
            headers=auth(family.coach.id),
            json={"sessionId": str(session_id)},
        ),
        post_signed(stack.http, cloud_envelope(button_tap(family.parent.phone, "Approve", context_id=provider_id))),
    )
    assert tap.status_code == 200
    if withdraw.status_code == 200:
        assert withdraw.json()["session"]["cancellation_status"] == "none"
        row = await _settled(pool, session_id, "none")
        assert row["status"] == "scheduled"
        outcome_events = ["cancellation_withdrawn"]
    else:
        assert withdraw.status_code == 409 and withdraw.json()["error"] == "no_cancellation_pending"
        row = await _settled(pool, session_id, "approved")
        assert row["status"] == "cancelled"
        outcome_events = ["session_cancelled"]
    await stack.env.sleep(timedelta(hours=49))
    events = await _events(pool, session_id)
    assert sorted(events) == sorted(["cancellation_requested", *outcome_events])


async def test_coach_withdraws_and_the_parent_hears_the_session_stands(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, _ = await _request(stack, pool)
    response = await stack.http.post(
        "/api/sessions/withdraw-cancel", headers=auth(family.coach.id), json={"sessionId": str(session_id)}
    )
    assert response.status_code == 200, response.text
    assert response.json()["session"]["cancellation_status"] == "none"
    await _settled(pool, session_id, "none")
    assert "p27_cancellation_withdrawn" in await _templates(pool, session_id)
    # and the timer is gone with the request
    await stack.env.sleep(timedelta(hours=49))
    row = await _session(pool, session_id)
    assert row["status"] == "scheduled" and row["cancellation_status"] == "none"
    again = await stack.http.post(
        "/api/sessions/withdraw-cancel", headers=auth(family.coach.id), json={"sessionId": str(session_id)}
    )
    assert again.status_code == 409 and again.json()["error"] == "no_cancellation_pending"


@pytest.mark.parametrize(
    ("decision", "status", "session_status"),
    [("approve", "approved", "cancelled"), ("reject", "rejected", "scheduled")],
)
async def test_admin_decides_for_a_parent_who_called(
    stack: Stack, pool: asyncpg.Pool, decision: str, status: str, session_status: str
) -> None:
    family, session_id, _ = await _request(stack, pool)
    coach_try = await stack.http.post(
        "/api/sessions/decide-cancel",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "decision": decision},
    )
    assert coach_try.status_code == 403
    response = await stack.http.post(
        "/api/sessions/decide-cancel",
        headers=ADMIN,
        json={"sessionId": str(session_id), "decision": decision},
    )
    assert response.status_code == 200, response.text
    assert response.json()["session"]["cancellation_status"] == status
    row = await _settled(pool, session_id, status)
    assert row["status"] == session_status and row["cancellation_decided_by"] == "admin"


async def test_request_refusals(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    ids = await make_sessions(
        pool, family, [now_utc() - hours(30), now_utc() + hours(40)], statuses=["completed", "scheduled"]
    )
    coach = auth(family.coach.id)
    done = await stack.http.post(
        "/api/sessions/request-cancel", headers=coach, json={"sessionId": str(ids[0]), "reason": "travel"}
    )
    assert done.status_code == 409 and done.json()["error"] == "invalid_status"
    for reason in ("", "no", "x" * 501):
        short = await stack.http.post(
            "/api/sessions/request-cancel", headers=coach, json={"sessionId": str(ids[1]), "reason": reason}
        )
        assert short.status_code == 422
    first = await stack.http.post(
        "/api/sessions/request-cancel",
        headers=coach,
        json={"sessionId": str(ids[1]), "reason": "Coach unwell"},
    )
    assert first.status_code == 202
    second = await stack.http.post(
        "/api/sessions/request-cancel",
        headers=coach,
        json={"sessionId": str(ids[1]), "reason": "Coach unwell"},
    )
    assert second.status_code == 409 and second.json()["error"] == "cancellation_pending"
    other = await make_family(pool)
    stranger = await stack.http.post(
        "/api/sessions/request-cancel",
        headers=auth(other.coach.id),
        json={"sessionId": str(ids[1]), "reason": "Coach unwell"},
    )
    assert stranger.status_code == 404
    assert await _events(pool, ids[1]) == ["cancellation_requested"]


async def test_worker_restart_while_waiting(stack: Stack, pool: asyncpg.Pool) -> None:
    """A new worker (the old one gone, its cache with it) picks the waiting consent up from history.

    The first worker keeps no sticky cache, as after a crash: the test server's sticky-queue timeout
    follows its frozen clock, so a cached worker's tasks would otherwise wait for a worker that left.
    """
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(96)])
    async with running_worker(
        stack.env.client,
        pool,
        calendar=stack.google,
        whatsapp=stack.whatsapp,
        task_queue="restart-" + str(session_id),
        max_cached_workflows=0,
    ) as task_queue:
        async with api_client(pool, stack.env.client, task_queue) as http:
            response = await http.post(
                "/api/sessions/request-cancel",
                headers=auth(family.coach.id),
                json={"sessionId": str(session_id), "reason": "Coach travelling"},
            )
            assert response.status_code == 202

            async def sent() -> str | None:
                return await pool.fetchval(
                    "SELECT provider_message_id FROM outbound_messages WHERE session_id = $1 AND status = 'sent'",
                    session_id,
                )

            provider_id = await eventually(sent)
            consent_id = await pool.fetchval(
                "SELECT consent_workflow_id FROM scheduled_sessions WHERE id = $1", session_id
            )
            await eventually(lambda: quiescent(stack.env.client, f"session-{session_id}", consent_id))
    async with running_worker(
        stack.env.client,
        pool,
        calendar=stack.google,
        whatsapp=stack.whatsapp,
        task_queue="restart-" + str(session_id),
    ) as task_queue:
        # A day passes under the new worker (skipping time with no worker at all hung the test
        # server now and then: its clock does not move while any task waits for a worker).
        await stack.env.sleep(timedelta(hours=24))
        async with api_client(pool, stack.env.client, task_queue) as http:
            tap = await post_signed(
                http, cloud_envelope(button_tap(family.parent.phone, "Approve", context_id=provider_id))
            )
            assert tap.json()["status"] == "signalled"
            row = await _settled(pool, session_id, "approved")
    assert row["status"] == "cancelled"
    assert await _events(pool, session_id) == ["cancellation_requested", "session_cancelled"]


async def test_a_coach_cannot_use_the_admin_cancel_even_with_a_request(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, _ = await _request(stack, pool)
    response = await stack.http.delete(
        f"/api/sessions?sessionId={session_id}&reason=now", headers=auth(family.coach.id)
    )
    assert response.status_code == 403
    admin = await stack.http.delete(f"/api/sessions?sessionId={session_id}&reason=now+please", headers=ADMIN)
    assert admin.status_code == 409 and admin.json()["error"] == "cancellation_pending"
    assert (await _session(pool, session_id))["status"] == "scheduled"
