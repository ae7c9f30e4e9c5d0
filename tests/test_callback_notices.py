"""A parent's "Call Me" taps: the coach gets one paid c03 notice per request within
CALLBACK_NOTICE_WINDOW (30 min by default); every tap is still recorded (its inbound row and its
learning event), however many arrive and however they overlap."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from activities.sessions import run_transition
from coach_sessions.contracts import Actor, SessionAction, TransitionRequest
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.rules import callback_notice_due
from coach_sessions.templates import COACH_CALLBACK_REQUESTED
from tests.consent_support import request_cancel_sent
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import Stack, auth, eventually
from tests.whatsapp_payloads import button_tap, cloud_envelope, post_signed


async def _pending(stack: Stack, pool: asyncpg.Pool) -> tuple[Family, UUID, str]:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(96)])
    return family, session_id, await request_cancel_sent(stack, family, pool, session_id)


async def _call_me(stack: Stack, family: Family, context_id: str, message_id: str | None = None) -> str:
    tap = button_tap(family.parent.phone, "Call Me", context_id=context_id, message_id=message_id)
    response = await post_signed(stack.http, cloud_envelope(tap))
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def _callback_events(pool: asyncpg.Pool, session_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT event_data FROM learning_events WHERE session_id = $1 AND event_type = 'parent_callback_requested'"
        " ORDER BY event_date, created_at",
        session_id,
    )
    return [r["event_data"] for r in rows]


async def _settled(pool: asyncpg.Pool, session_id: UUID, taps: int) -> list[dict[str, Any]]:
    """Once every tap is recorded as an event and nothing is left to deliver: the events."""

    async def done() -> list[dict[str, Any]] | None:
        events = await _callback_events(pool, session_id)
        busy = await pool.fetchval(
            "SELECT count(*) FROM outbound_messages WHERE session_id = $1 AND status IN ('queued', 'sending')",
            session_id,
        )
        return events if len(events) == taps and busy == 0 else None

    return await eventually(done, within=20.0)  # type: ignore[no-any-return]


async def _notices(stack: Stack, pool: asyncpg.Pool, session_id: UUID) -> tuple[int, int]:
    """c03 notices to the coach: queued in the outbox, and received by (fake) AiSensy."""
    queued = await pool.fetchval(
        "SELECT count(*) FROM outbound_messages WHERE session_id = $1 AND template_name = $2",
        session_id,
        COACH_CALLBACK_REQUESTED,
    )
    coach_phone = await pool.fetchval(
        "SELECT co.phone FROM scheduled_sessions s JOIN coaches co ON co.id = s.coach_id WHERE s.id = $1", session_id
    )
    received = [
        m
        for m in stack.aisensy.messages
        if m["campaignName"] == COACH_CALLBACK_REQUESTED and m["destination"] == coach_phone
    ]
    return queued, len(received)


async def test_twenty_call_me_taps_make_one_coach_notice_and_twenty_records(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, provider_id = await _pending(stack, pool)
    for _ in range(20):
        assert await _call_me(stack, family, provider_id) == "signalled"
    events = await _settled(pool, session_id, taps=20)
    assert await _notices(stack, pool, session_id) == (1, 1)
    assert [e["coach_notified"] for e in events] == [True] + [False] * 19
    recorded = await pool.fetchval(
        "SELECT count(*) FROM inbound_messages WHERE matched_session_id = $1 AND outcome = 'signalled'", session_id
    )
    assert recorded == 20
    assert (await pool.fetchval("SELECT cancellation_status FROM scheduled_sessions WHERE id = $1", session_id)) == (
        "pending"
    )


async def test_ten_copies_of_one_tap_at_once_make_one_notice(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, provider_id = await _pending(stack, pool)
    statuses = await asyncio.gather(*(_call_me(stack, family, provider_id, message_id="wamid.same") for _ in range(10)))
    assert sorted(statuses) == ["duplicate"] * 9 + ["signalled"]
    await _settled(pool, session_id, taps=1)
    assert await _notices(stack, pool, session_id) == (1, 1)


async def test_ten_distinct_taps_at_once_make_one_notice(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, provider_id = await _pending(stack, pool)
    statuses = await asyncio.gather(*(_call_me(stack, family, provider_id) for _ in range(10)))
    assert statuses == ["signalled"] * 10
    events = await _settled(pool, session_id, taps=10)
    assert await _notices(stack, pool, session_id) == (1, 1)
    assert sum(e["coach_notified"] for e in events) == 1


async def test_a_tap_after_the_window_notifies_again(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, provider_id = await _pending(stack, pool)
    await _call_me(stack, family, provider_id)
    await _settled(pool, session_id, taps=1)
    await stack.env.sleep(timedelta(minutes=29))
    await _call_me(stack, family, provider_id)
    await _settled(pool, session_id, taps=2)
    assert await _notices(stack, pool, session_id) == (1, 1)  # 29 min after the notice: within the window
    await stack.env.sleep(timedelta(minutes=2))
    await _call_me(stack, family, provider_id)
    events = await _settled(pool, session_id, taps=3)
    assert await _notices(stack, pool, session_id) == (2, 2)  # 31 min after it: the coach is told again
    assert [e["coach_notified"] for e in events] == [True, False, True]


async def test_a_new_request_gets_its_own_notice(stack: Stack, pool: asyncpg.Pool) -> None:
    """The window is per request: the coach withdrew and asked again, and the parent's Call Me on the
    new request is news, even a minute after the notice for the old one."""
    family, session_id, first = await _pending(stack, pool)
    await _call_me(stack, family, first)
    await _settled(pool, session_id, taps=1)
    withdrawn = await stack.http.post(
        "/api/sessions/withdraw-cancel", headers=auth(family.coach.id), json={"sessionId": str(session_id)}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    second = await request_cancel_sent(stack, family, pool, session_id)
    assert await _call_me(stack, family, second) == "signalled"
    await _settled(pool, session_id, taps=2)
    assert await _notices(stack, pool, session_id) == (2, 2)


async def test_concurrent_callback_transitions_queue_one_notice(pool: asyncpg.Pool) -> None:
    """The same race straight at the transaction, without the consent workflow's one-at-a-time loop:
    the session's row lock orders the taps, and a retried one answers what it committed."""
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(96)])
    now = datetime.now(UTC)
    await pool.execute(
        "UPDATE scheduled_sessions SET cancellation_status = 'pending', cancellation_request_count = 1,"
        " consent_workflow_id = 'consent-' || id || '-1', cancellation_reason = 'ill',"
        " cancellation_requested_at = $2::timestamptz,"
        " cancellation_expires_at = $2::timestamptz + interval '2 days' WHERE id = $1",
        session_id,
        now,
    )
    repo = SessionRepository(pool)
    requests = [
        TransitionRequest(
            session_id=session_id,
            action=SessionAction.PARENT_CALLBACK,
            request_id=f"callback:wamid.{i}",
            actor=Actor(id=None, role="parent"),
            now=now + timedelta(seconds=1),
        )
        for i in range(10)
    ]
    results = await asyncio.gather(*(run_transition(repo, r) for r in requests))
    assert sorted(len(r.message_ids) for r in results) == [0] * 9 + [1]
    again = await asyncio.gather(*(run_transition(repo, r) for r in requests))  # retried activities
    assert [r.message_ids for r in again] == [r.message_ids for r in results]
    assert len(await _callback_events(pool, session_id)) == 10
    queued = await pool.fetchval(
        "SELECT count(*) FROM outbound_messages WHERE session_id = $1 AND template_name = $2",
        session_id,
        COACH_CALLBACK_REQUESTED,
    )
    assert queued == 1


def test_a_zero_window_notifies_every_tap() -> None:
    now = datetime.now(UTC)
    assert callback_notice_due(now, now, timedelta(0))
    assert not callback_notice_due(now - timedelta(minutes=29), now, timedelta(minutes=30))
    assert callback_notice_due(now - timedelta(minutes=30), now, timedelta(minutes=30))
    assert callback_notice_due(None, now, timedelta(minutes=30))
