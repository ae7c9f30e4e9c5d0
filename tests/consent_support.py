"""Cancellation requests for the consent tests: one sent through the API, or one written straight into
the outbox as already sent (the provider id the parent's taps quote)."""

from uuid import UUID, uuid4

import asyncpg

from coach_sessions.repositories.outbox import enqueue_message
from coach_sessions.templates import CANCELLATION_REQUEST
from tests.factories import Family
from tests.helpers import Stack, auth, eventually


async def request_cancel_sent(stack: Stack, family: Family, pool: asyncpg.Pool, session_id: UUID) -> str:
    """A coach's request, once its p26 message is sent: the provider id the parent's taps quote."""
    response = await stack.http.post(
        "/api/sessions/request-cancel",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "reason": "Coach unwell"},
    )
    assert response.status_code == 202, response.text

    async def sent() -> str | None:
        return await pool.fetchval(
            "SELECT o.provider_message_id FROM scheduled_sessions s"
            " JOIN outbound_messages o ON o.id = s.cancellation_message_id WHERE s.id = $1 AND o.status = 'sent'",
            session_id,
        )

    return await eventually(sent)  # type: ignore[no-any-return]


async def sent_request_message(pool: asyncpg.Pool, session_id: UUID, family: Family, provider_id: str) -> UUID:
    """A request message in the outbox, marked sent with ``provider_id``."""
    async with pool.acquire() as conn:
        message_id = await enqueue_message(
            conn,
            idempotency_key=f"test:{uuid4()}",
            template_name=CANCELLATION_REQUEST,
            destination=family.parent.phone,
            user_name=family.parent.name,
            template_params=["x"],
            session_id=session_id,
            child_id=family.child.id,
        )
        await conn.execute(
            "UPDATE outbound_messages SET status = 'sent', sent_at = now(), provider_message_id = $2 WHERE id = $1",
            message_id,
            provider_id,
        )
    return message_id
