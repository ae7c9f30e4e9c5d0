"""The outbox of outbound WhatsApp messages.

Delivery is *at most once*: an attempt claims the row (``queued`` → ``sending``, naming itself and
until when it can be alive) before calling the provider. A later attempt of the same delivery that
finds the row still ``sending`` knows the earlier one died between its claim and its record, so the
message may already be on the parent's phone: it marks it ``in_doubt`` for ops instead of sending it
twice (so does anyone finding a claim past its lease). Another delivery of the same message (two
dispatches of one message) leaves a live attempt alone: that attempt's outcome decides. A provider
error that proves nothing was sent (refused connection, 5xx, 429) releases the attempt's claim so
the retry sends it.
"""

from dataclasses import dataclass
from datetime import timedelta
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


@dataclass(frozen=True)
class DeliveryAttempt:
    """One attempt of one delivery: ``delivery`` names the Temporal activity (workflow, run, activity
    id), ``number`` its attempt; ``alive_for`` bounds how long the attempt can run (its timeout)."""

    delivery: str
    number: int
    alive_for: timedelta


# Being delivered by another attempt (of another delivery) that is still alive: its outcome decides.
BEING_DELIVERED = "being_delivered"


# A deactivated parent gets no message (migration 0018): their child's, or their child's session's.
_PARENT_DEACTIVATED = """
SELECT p.deactivated_at IS NOT NULL
  FROM outbound_messages o
  LEFT JOIN scheduled_sessions s ON s.id = o.session_id
  JOIN children c ON c.id = coalesce(o.child_id, s.child_id)
  JOIN parents p ON p.id = c.parent_id
 WHERE o.id = $1
"""


class OutboxRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(self, message_id: UUID, attempt: DeliveryAttempt) -> tuple[OutboundMessage | None, str]:
        """Claim a queued message for this delivery attempt.

        Returns the message when this attempt owns it, else ``None`` with the status that stopped it.
        A message found ``sending`` becomes ``in_doubt`` when its claimer is known dead: an earlier
        attempt of this same delivery, or any claim past its lease; a live claim of another delivery
        is left alone (``being_delivered``).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT *, lease_until < now() AS lease_over FROM outbound_messages WHERE id = $1 FOR UPDATE",
                message_id,
            )
            if row is None:
                return None, "missing"
            if row["status"] == MessageStatus.SENDING:
                if row["claimed_by"] != attempt.delivery and not row["lease_over"]:
                    return None, BEING_DELIVERED
                await conn.execute(
                    "UPDATE outbound_messages SET status = $2, updated_at = now(),"
                    " last_error = 'delivery attempt died after claiming; not resent' WHERE id = $1",
                    message_id,
                    MessageStatus.IN_DOUBT.value,
                )
                return None, MessageStatus.IN_DOUBT.value
            if row["status"] != MessageStatus.QUEUED:
                return None, str(row["status"])
            if row["recipient_role"] == "parent" and await conn.fetchval(_PARENT_DEACTIVATED, message_id):
                await conn.execute(
                    "UPDATE outbound_messages SET status = $2, updated_at = now(),"
                    " last_error = 'parent deactivated: not sent' WHERE id = $1",
                    message_id,
                    MessageStatus.DROPPED.value,
                )
                return None, MessageStatus.DROPPED.value
            claimed = await conn.fetchrow(
                "UPDATE outbound_messages SET status = $2, attempts = attempts + 1, updated_at = now(),"
                " claimed_by = $3, claimed_attempt = $4, lease_until = now() + $5::interval"
                " WHERE id = $1 RETURNING *",
                message_id,
                MessageStatus.SENDING.value,
                attempt.delivery,
                attempt.number,
                attempt.alive_for,
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

    async def release(self, message_id: UUID, attempt: DeliveryAttempt, error: str) -> bool:
        """The provider proved it sent nothing: back to ``queued`` for the next attempt. Only this
        attempt's own claim is released (False when the row is no longer it: e.g. a later attempt of
        its delivery, started once Temporal gave this one up, has marked it ``in_doubt``)."""
        released = await self._pool.fetchval(
            "UPDATE outbound_messages SET status = $2, last_error = $3, updated_at = now()"
            " WHERE id = $1 AND status = $4 AND claimed_by = $5 AND claimed_attempt = $6"
            " RETURNING true",
            message_id,
            MessageStatus.QUEUED.value,
            error[:1000],
            MessageStatus.SENDING.value,
            attempt.delivery,
            attempt.number,
        )
        return bool(released)

    async def mark_failed(self, message_id: UUID, error: str) -> None:
        await self._pool.execute(
            "UPDATE outbound_messages SET status = $2, last_error = $3, updated_at = now() WHERE id = $1",
            message_id,
            MessageStatus.FAILED.value,
            error[:1000],
        )
