"""The "already decided" notice (p28) is keyed by the request the tap answered: a tap quoting an older
request's message must not use up the notice of the request that came after it."""

import asyncio
from uuid import UUID, uuid4

import asyncpg

from coach_sessions.repositories.inbound import InboundRepository
from coach_sessions.statuses import ConsentChoice
from coach_sessions.templates import CANCELLATION_ALREADY_DECIDED
from coach_sessions.whatsapp_inbound import InboundReply
from tests.consent_support import request_cancel_sent, sent_request_message
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import Stack, auth, eventually
from tests.whatsapp_payloads import button_tap, cloud_envelope, post_signed


async def _tap(stack: Stack, family: Family, text: str, context_id: str) -> str:
    response = await post_signed(
        stack.http, cloud_envelope(button_tap(family.parent.phone, text, context_id=context_id))
    )
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def _late_notices(pool: asyncpg.Pool, session_id: UUID) -> list[asyncpg.Record]:
    return await pool.fetch(  # type: ignore[no-any-return]
        "SELECT idempotency_key, template_params, status FROM outbound_messages"
        " WHERE session_id = $1 AND template_name = $2 ORDER BY created_at",
        session_id,
        CANCELLATION_ALREADY_DECIDED,
    )


async def test_a_tap_on_a_withdrawn_request_leaves_the_new_requests_notice_alone(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(96)])
    first = await request_cancel_sent(stack, family, pool, session_id)
    withdrawn = await stack.http.post(
        "/api/sessions/withdraw-cancel", headers=auth(family.coach.id), json={"sessionId": str(session_id)}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    second = await request_cancel_sent(stack, family, pool, session_id)

    assert await _tap(stack, family, "Approve", first) == "late"  # the old message: it decides nothing
    [old] = await _late_notices(pool, session_id)
    assert old["idempotency_key"] == f"late-reply:consent-{session_id}-1"
    assert "newer request" in old["template_params"][2]
    status = await pool.fetchval("SELECT cancellation_status FROM scheduled_sessions WHERE id = $1", session_id)
    assert status == "pending"

    assert await _tap(stack, family, "Approve", second) == "signalled"

    async def cancelled() -> bool:
        row = await pool.fetchrow("SELECT status FROM scheduled_sessions WHERE id = $1", session_id)
        return bool(row["status"] == "cancelled")

    await eventually(cancelled)
    # Late taps on both messages at once: the new request's own get its notice, once; the old one's
    # add nothing.
    statuses = await asyncio.gather(*(_tap(stack, family, "Reschedule", context) for context in [first, second] * 5))
    assert statuses == ["late"] * 10

    async def both_sent() -> list[asyncpg.Record] | None:
        notices = await _late_notices(pool, session_id)
        return notices if len(notices) == 2 and all(n["status"] == "sent" for n in notices) else None

    _, new = await eventually(both_sent)
    assert new["idempotency_key"] == f"late-reply:consent-{session_id}-2"
    assert "the session was cancelled" in new["template_params"]
    received = [m for m in stack.aisensy.messages if m["campaignName"] == CANCELLATION_ALREADY_DECIDED]
    assert len(received) == 2


# ----- a tap that lost its race: keyed by the request it was matched to -----------------------------------


async def _request_message(pool: asyncpg.Pool, session_id: UUID, family: Family) -> tuple[UUID, str]:
    provider_id = f"wamid.req-{uuid4()}"
    return await sent_request_message(pool, session_id, family, provider_id), provider_id


async def _pending_request(pool: asyncpg.Pool, session_id: UUID, message_id: UUID, count: int) -> None:
    """The session's ``count``-th request, pending (what the request transition writes)."""
    await pool.execute(
        "UPDATE scheduled_sessions SET cancellation_status = 'pending', cancellation_message_id = $2,"
        " cancellation_request_count = $3::int, consent_workflow_id = 'consent-' || id || '-' || $3::int,"
        " cancellation_reason = 'ill', cancellation_requested_at = now(), cancellation_decided_by = NULL,"
        " cancellation_decided_at = NULL, cancellation_expires_at = now() + interval '2 days' WHERE id = $1",
        session_id,
        message_id,
        count,
    )


async def test_a_tap_that_lost_is_keyed_by_the_request_it_answered(pool: asyncpg.Pool) -> None:
    """The tap matched request 1; before its signal went in, the coach withdrew and asked again. Its
    "already decided" notice belongs to request 1, not to request 2 (whose own late taps need it)."""
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(96)])
    first, first_provider_id = await _request_message(pool, session_id, family)
    await _pending_request(pool, session_id, first, count=1)
    reply = InboundReply(
        provider_message_id=f"wamid.tap-{uuid4()}",
        from_phone=family.parent.phone,
        context_message_id=first_provider_id,
        button_payload="Approve",
        button_text="Approve",
        choice=ConsentChoice.APPROVE,
        payload={},
    )
    inbound = InboundRepository(pool)
    match = await inbound.record_reply(reply)
    assert (match.kind, match.consent_workflow_id) == ("signalled", f"consent-{session_id}-1")

    second, _ = await _request_message(pool, session_id, family)
    await _pending_request(pool, session_id, second, count=2)  # request 1 withdrawn, request 2 asked
    notice_id = await inbound.queue_late_notice(reply, session_id)
    key, params = await pool.fetchrow(
        "SELECT idempotency_key, template_params FROM outbound_messages WHERE id = $1", notice_id
    )
    assert key == f"late-reply:consent-{session_id}-1"
    assert "newer request" in params[2]
