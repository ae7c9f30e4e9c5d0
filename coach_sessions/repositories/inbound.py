"""Inbound WhatsApp replies: record each once, match it to a cancellation request, queue late notices."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

import asyncpg

from coach_sessions.repositories.outbox import enqueue_message
from coach_sessions.statuses import CancellationStatus
from coach_sessions.templates import (
    CANCELLATION_ALREADY_DECIDED,
    CANCELLATION_REQUEST,
    MessageContext,
    render_params,
)
from coach_sessions.whatsapp_inbound import InboundReply

# A tap on a request decided this recently still earns the parent a "this was already decided" note.
LATE_REPLY_WINDOW = timedelta(days=7)
# How long the delivery signalling a tap holds it (longer than a signal can take: the wait for a consent
# child that is starting, and Temporal's RPC retries); a failed signal lets go at once.
SIGNAL_CLAIM = timedelta(seconds=30)

MatchKind = Literal["signalled", "late", "ignored", "duplicate"]


@dataclass(frozen=True)
class ReplyMatch:
    kind: MatchKind
    session_id: UUID | None = None
    consent_workflow_id: str | None = None
    late_message_id: UUID | None = None
    # Why a reply was ignored, for ops (e.g. the sender is not the number the message went to).
    reason: str | None = None


# A tap on a request the coach replaced with a newer one (after withdrawing it, or its rejection).
_SUPERSEDED_TEXT = "a newer request replaced this one, so only your answer to the newest message counts"
_OUTCOME_TEXT = {
    CancellationStatus.APPROVED: "the session was cancelled",
    CancellationStatus.REJECTED: "the session stays and your coach will propose a new time",
    CancellationStatus.NONE: "the coach withdrew the request, so the session goes ahead",
}


class InboundRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_reply(self, reply: InboundReply) -> ReplyMatch:
        async with self._pool.acquire() as conn, conn.transaction():
            # A tap whose earlier delivery could not signal it (no live claim): this delivery signals it.
            owed = await conn.fetchrow(
                "UPDATE inbound_messages SET signal_claimed_until = now() + $2::interval"
                " WHERE provider_message_id = $1 AND outcome = 'matched'"
                " AND (signal_claimed_until IS NULL OR signal_claimed_until < now())"
                " RETURNING matched_session_id, consent_workflow_id",
                reply.provider_message_id,
                SIGNAL_CLAIM,
            )
            if owed is not None:
                return ReplyMatch(
                    "signalled", session_id=owed["matched_session_id"], consent_workflow_id=owed["consent_workflow_id"]
                )
            seen = await conn.fetchval(
                "SELECT 1 FROM inbound_messages WHERE provider_message_id = $1", reply.provider_message_id
            )
            if seen:
                return ReplyMatch("duplicate")
            session, reason = await self._match(conn, reply)
            match = ReplyMatch("ignored", reason=reason) if reason else self._classify(reply, session)
            inserted = await conn.fetchval(
                """
                INSERT INTO inbound_messages (provider_message_id, from_phone, context_message_id,
                    button_payload, button_text, choice, matched_session_id, outcome, payload,
                    consent_workflow_id, signal_claimed_until)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                        CASE WHEN $8 = 'matched' THEN now() + $11::interval END)
                ON CONFLICT (provider_message_id) DO NOTHING
                RETURNING id
                """,
                reply.provider_message_id,
                reply.from_phone,
                reply.context_message_id,
                reply.button_payload,
                reply.button_text,
                reply.choice.value if reply.choice else None,
                match.session_id,
                "matched" if match.kind == "signalled" else match.kind,  # signalled once the signal is in
                reply.payload,
                match.consent_workflow_id,
                SIGNAL_CLAIM,
            )
            if inserted is None:  # the same delivery, concurrently
                return ReplyMatch("duplicate")
            if match.kind == "late" and session is not None:
                message_id = await self._queue_late_notice(
                    conn, session, _answered_request(session), current=session["is_current_request"]
                )
                return ReplyMatch("late", session_id=match.session_id, late_message_id=message_id)
            return match

    async def mark_signalled(self, provider_message_id: str) -> None:
        """The consent workflow holds this tap's signal: a redelivery is a duplicate from now on."""
        await self._pool.execute(
            "UPDATE inbound_messages SET outcome = 'signalled', signal_claimed_until = NULL"
            " WHERE provider_message_id = $1 AND outcome = 'matched'",
            provider_message_id,
        )

    async def signal_failed(self, provider_message_id: str) -> None:
        """This delivery could not signal the tap (Temporal unreachable): the next delivery will."""
        await self._pool.execute(
            "UPDATE inbound_messages SET signal_claimed_until = NULL"
            " WHERE provider_message_id = $1 AND outcome = 'matched'",
            provider_message_id,
        )

    async def queue_late_notice(self, reply: InboundReply, session_id: UUID) -> UUID:
        """The request was decided between our match and the signal: tell the parent after all.

        The notice belongs to the request the tap was matched to (recorded on its row), which need not
        be the session's current one: the coach may have withdrawn it and asked again meanwhile."""
        async with self._pool.acquire() as conn, conn.transaction():
            answered = await conn.fetchval(
                "UPDATE inbound_messages SET outcome = 'late' WHERE provider_message_id = $1"
                " RETURNING consent_workflow_id",
                reply.provider_message_id,
            )
            row = await conn.fetchrow(_SESSION_FOR_REPLY + _CURRENT_REQUEST + " WHERE s.id = $1", session_id)
            session = dict(row)
            request = answered or _answered_request(session)
            return await self._queue_late_notice(
                conn, session, request, current=request == session["consent_workflow_id"]
            )

    @staticmethod
    def _classify(reply: InboundReply, session: dict[str, Any] | None) -> ReplyMatch:
        if session is None or reply.choice is None:
            return ReplyMatch("ignored", session_id=session["id"] if session else None)
        if session["cancellation_status"] == CancellationStatus.PENDING and session["is_current_request"]:
            return ReplyMatch("signalled", session_id=session["id"], consent_workflow_id=session["consent_workflow_id"])
        return ReplyMatch("late", session_id=session["id"])

    async def _match(self, conn: asyncpg.Connection, reply: InboundReply) -> tuple[dict[str, Any] | None, str | None]:
        """The session this tap answers, or why it answers none we may act on.

        A tap counts only when its sender is the number the answered request went to: a signed
        delivery whose ``from`` is parent A but whose ``context.id`` is the message sent to parent B
        must not touch B's session. The phone fallback follows the same rule by construction.
        """
        if reply.context_message_id:
            row = await conn.fetchrow(
                _SESSION_FOR_REPLY.replace(
                    "TRUE AS is_current_request", "s.cancellation_message_id = o.id AS is_current_request"
                )
                + " JOIN outbound_messages o ON o.session_id = s.id"
                " WHERE o.provider_message_id = $1 AND o.template_name = $2",
                reply.context_message_id,
                CANCELLATION_REQUEST,
            )
            if row is not None:
                if row["request_sent_to"] != reply.from_phone:
                    return None, "sender_is_not_recipient"
                return dict(row), None
        # AiSensy's send API documents no message id: fall back to the request sent to this number.
        pending = await conn.fetch(
            _SESSION_FOR_REPLY + _CURRENT_REQUEST + " WHERE o.destination = $1 AND s.cancellation_status = $2",
            reply.from_phone,
            CancellationStatus.PENDING.value,
        )
        if len(pending) == 1:
            return dict(pending[0]), None
        if pending:
            return None, "ambiguous"  # two requests pending for this number; the tap names neither
        recent = await conn.fetchrow(
            _SESSION_FOR_REPLY
            + _CURRENT_REQUEST
            + " WHERE o.destination = $1 AND s.cancellation_decided_at > now() - $2::interval"
            " ORDER BY s.cancellation_decided_at DESC LIMIT 1",
            reply.from_phone,
            LATE_REPLY_WINDOW,
        )
        return (dict(recent) if recent else None), None

    @staticmethod
    async def _queue_late_notice(
        conn: asyncpg.Connection, session: dict[str, Any], request: str, *, current: bool
    ) -> UUID:
        """One "already decided" note per request (``request``: the one the tap answered), however many
        late taps arrive for it. The session's state tells the outcome only of its current request."""
        if current:
            status = CancellationStatus(session["cancellation_status"])
            notes = _OUTCOME_TEXT.get(status, "the request was already decided")
        else:
            notes = _SUPERSEDED_TEXT
        context = MessageContext.from_row(session, timezone=session["timezone"], notes=notes)
        return await enqueue_message(
            conn,
            idempotency_key=f"late-reply:{request}",
            template_name=CANCELLATION_ALREADY_DECIDED,
            destination=session["parent_phone"],
            user_name=session["parent_name"],
            template_params=render_params(CANCELLATION_ALREADY_DECIDED, context),
            session_id=session["id"],
            child_id=session["child_id"],
        )


_SESSION_FOR_REPLY = """
SELECT s.id, s.child_id, s.session_number, s.scheduled_at, s.cancellation_status, s.consent_workflow_id,
       TRUE AS is_current_request, o.destination AS request_sent_to,
       o.id AS request_message_id, o.consent_workflow_id AS request_workflow_id,
       ch.name AS child_name, pa.name AS parent_name, pa.phone AS parent_phone,
       co.name AS coach_name, co.timezone
  FROM scheduled_sessions s
  JOIN children ch ON ch.id = s.child_id
  JOIN parents pa ON pa.id = ch.parent_id
  JOIN coaches co ON co.id = s.coach_id
"""
# The session's current request message (its destination is who may answer it).
_CURRENT_REQUEST = " LEFT JOIN outbound_messages o ON o.id = s.cancellation_message_id"


def _answered_request(session: dict[str, Any]) -> str:
    """The request a tap answered: the one its request message names (migration 0012). A message from
    before 0012 names none: the session's request when it is the current one, else the message itself."""
    if session["request_workflow_id"]:
        return str(session["request_workflow_id"])
    if session["is_current_request"] and session["consent_workflow_id"]:
        return str(session["consent_workflow_id"])
    return f"message-{session['request_message_id'] or session['id']}"
