"""The outbox of outbound WhatsApp messages.

Delivery is *at most once*: an attempt claims the row (``queued`` → ``sending``) before calling the
provider. An attempt that finds the row still ``sending`` knows an earlier attempt died between its
claim and its record, so the message may already be on the parent's phone: it marks it ``in_doubt``
for ops instead of sending it twice. A provider error that proves nothing was sent (refused
connection, 5xx, 429) releases the claim so the retry sends it.
"""

from uuid import UUID

import asyncpg
from pydantic import BaseModel

from coach_sessions.statuses import MessageStatus


class OutboundMessage(BaseModel):
    id: UUID
    idempotency_key: str
    template_name: str
    destination: str
    user_name: str
    template_params: list[str]
    session_id: UUID | None
    child_id: UUID | None
    status: str
    attempts: int
    provider: str | None
    provider_message_id: str | None
    last_error: str | None


async def enqueue_message(
    conn: asyncpg.Connection,
    *,
    idempotency_key: str,
    template_name: str,
    destination: str,
    user_name: str,
    template_params: list[str],
    session_id: UUID | None,
    child_id: UUID | None,
    recipient_role: str = "parent",
) -> UUID:
    """Queue a message inside the caller's transaction; the same key twice queues it once."""
    inserted = await conn.fetchval(
        """
        INSERT INTO outbound_messages (idempotency_key, template_name, destination, user_name,
                                       template_params, session_id, child_id, recipient_role)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
        """,
        idempotency_key,
        template_name,
        destination,
        user_name,
        template_params,
        session_id,
        child_id,
        recipient_role,
    )
    if inserted is not None:
        return inserted  # type: ignore[no-any-return]
    existing = await conn.fetchval("SELECT id FROM outbound_messages WHERE idempotency_key = $1", idempotency_key)
    return existing  # type: ignore[no-any-return]


class OutboxRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(self, message_id: UUID) -> tuple[OutboundMessage | None, str]:
        """Claim a queued message for one delivery attempt.

        Returns the message when this attempt owns it, else ``None`` with the status that stopped it.
        A message found ``sending`` (its claimer died mid-send) becomes ``in_doubt``.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT * FROM outbound_messages WHERE id = $1 FOR UPDATE", message_id)
            if row is None:
                return None, "missing"
            if row["status"] == MessageStatus.SENDING:
                await conn.execute(
                    "UPDATE outbound_messages SET status = $2, updated_at = now(),"
                    " last_error = 'delivery attempt died after claiming; not resent' WHERE id = $1",
                    message_id,
                    MessageStatus.IN_DOUBT.value,
                )
                return None, MessageStatus.IN_DOUBT.value
            if row["status"] != MessageStatus.QUEUED:
                return None, str(row["status"])
            claimed = await conn.fetchrow(
                "UPDATE outbound_messages SET status = $2, attempts = attempts + 1, updated_at = now()"
                " WHERE id = $1 RETURNING *",
                message_id,
                MessageStatus.SENDING.value,
            )
        return OutboundMessage.model_validate(dict(claimed)), MessageStatus.SENDING.value

    async def mark_sent(self, message_id: UUID, *, provider: str, provider_message_id: str | None) -> None:
        await self._pool.execute(
            "UPDATE outbound_messages SET status = $2, provider = $3, provider_message_id = $4,"
            " sent_at = now(), updated_at = now(), last_error = NULL WHERE id = $1",
            message_id,
            MessageStatus.SENT.value,
            provider,
            provider_message_id,
        )

    async def release(self, message_id: UUID, error: str) -> None:
        """The provider proved it sent nothing: back to ``queued`` for the next attempt."""
        await self._pool.execute(
            "UPDATE outbound_messages SET status = $2, last_error = $3, updated_at = now()"
            " WHERE id = $1 AND status = $4",
            message_id,
            MessageStatus.QUEUED.value,
            error[:1000],
            MessageStatus.SENDING.value,
        )

    async def mark_failed(self, message_id: UUID, error: str) -> None:
        await self._pool.execute(
            "UPDATE outbound_messages SET status = $2, last_error = $3, updated_at = now() WHERE id = $1",
            message_id,
            MessageStatus.FAILED.value,
            error[:1000],
        )
