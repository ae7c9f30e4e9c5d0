"""Session state in Postgres: load, timer-driven pending, and the coach/admin transitions.

A transition is one transaction: lock the session and the earlier ones of its enrollment, answer a
replay of the same request from what it committed, check the rules (``transitions.plan``), write
the change, its learning event and the messages it sends. The repositories hold the SQL.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from temporalio import activity

from activities.errors import business_failures_are_final
from coach_sessions import rules
from coach_sessions.contracts import (
    CheckDeadlineInput,
    LoadSessionInput,
    MarkPendingInput,
    SessionAction,
    SessionCatchUp,
    TransitionRequest,
    TransitionResult,
)
from coach_sessions.errors import NotFound
from coach_sessions.models import SessionRecord
from coach_sessions.parent_messages import transition_context
from coach_sessions.repositories.learning_events import insert_learning_event
from coach_sessions.repositories.outbox import enqueue_message
from coach_sessions.repositories.sessions import SessionRepository, transition_key
from coach_sessions.statuses import TERMINAL_STATUSES
from coach_sessions.templates import CANCELLATION_REQUEST, addressee, render_params
from coach_sessions.transitions import Change, plan, repeated_callback


class SessionActivities:
    def __init__(
        self, sessions: SessionRepository, *, callback_notice_window: timedelta = rules.CALLBACK_NOTICE_WINDOW
    ) -> None:
        self._sessions = sessions
        self._callback_notice_window = callback_notice_window

    @activity.defn
    @business_failures_are_final
    async def load_session(self, request: LoadSessionInput) -> SessionRecord:
        record = await self._sessions.get(request.session_id)
        if record is None:
            raise NotFound()
        return record

    @activity.defn
    @business_failures_are_final
    async def load_catch_up(self, request: LoadSessionInput) -> SessionCatchUp:
        """The row and its still-queued messages, for a workflow asked to reconcile."""
        record = await self._sessions.get(request.session_id)
        if record is None:
            raise NotFound()
        return SessionCatchUp(session=record, queued_message_ids=await self._sessions.queued_messages(record.id))

    @activity.defn
    @business_failures_are_final
    async def mark_pending(self, request: MarkPendingInput) -> SessionRecord:
        return await self._sessions.mark_pending(request.session_id, request.now)

    @activity.defn
    @business_failures_are_final
    async def check_deadline(self, request: CheckDeadlineInput) -> None:
        """Refuse an action whose caller has stopped waiting (this host's clock, like the transition's)."""
        rules.refuse_after_deadline(request.deadline, datetime.now(UTC))

    @activity.defn
    @business_failures_are_final
    async def apply_transition(self, request: TransitionRequest) -> TransitionResult:
        activity.logger.info(
            "session transition",
            extra={"session_id": str(request.session_id), "action": request.action.value},
        )
        return await run_transition(self._sessions, request, callback_notice_window=self._callback_notice_window)


async def run_transition(
    sessions: SessionRepository,
    request: TransitionRequest,
    *,
    callback_notice_window: timedelta = rules.CALLBACK_NOTICE_WINDOW,
) -> TransitionResult:
    """Check the rules and apply one action, with its learning event and messages, atomically."""
    async with sessions.transaction() as conn:
        siblings = await sessions.lock_through(conn, request.session_id)
        if (replay := await sessions.replayed(conn, request)) is not None:
            return replay  # this very request committed before (a retried activity): the same answer
        rules.refuse_after_deadline(request.deadline, datetime.now(UTC))  # (not on the replay above)
        row = siblings[-1]
        people = await sessions.people(conn, row["child_id"], row["coach_id"])
        # ``siblings`` stay locked to the end of the transaction, so ``blocking`` holds: no re-read.
        blocking = rules.blocking_session_number(
            row["session_number"], [(s["session_number"], s["status"]) for s in siblings]
        )
        change = plan(request, dict(row), blocking, people["coach_timezone"])
        if request.action is SessionAction.PARENT_CALLBACK:
            # Here, not in the workflow: the rule needs the request's earlier taps, and the row lock
            # taken above makes concurrent taps of one request read them one after the other.
            last = await sessions.last_callback_notice(conn, request.session_id, row["cancellation_requested_at"])
            if not rules.callback_notice_due(last, request.now, callback_notice_window):
                change = repeated_callback(change, row["session_number"])
        if change.columns:
            row = await sessions.write(conn, request.session_id, change.columns)
        if row["status"] in TERMINAL_STATUSES:
            await sessions.end_enrollment_when_done(conn, row["enrollment_id"])
        await _record_event(conn, request, row, change)
        row, message_ids = await _queue_messages(sessions, conn, request, row, people, change)
        record = SessionRecord.model_validate(dict(row) | {"blocking_session_number": blocking})
    return TransitionResult(session=record, message_ids=message_ids, calendar_sync_needed=change.calendar_sync)


async def _queue_messages(
    sessions: SessionRepository,
    conn: asyncpg.Connection,
    request: TransitionRequest,
    row: asyncpg.Record,
    people: asyncpg.Record,
    change: Change,
) -> tuple[asyncpg.Record, list[UUID]]:
    """Queue the change's messages (outbox, keyed by the transition); the row as it ends up."""
    # The one context builder the message preview uses too; it never reads the action's private notes.
    context = transition_context(row, people, request)
    message_ids = []
    for template_name, recipient in change.messages:
        phone, name = addressee(people, recipient)
        if phone is None:  # a coach without a WhatsApp number: the event still records it
            continue
        message_id = await enqueue_message(
            conn,
            idempotency_key=f"{transition_key(request.session_id, request.request_id)}:{template_name}",
            template_name=template_name,
            destination=phone,
            user_name=name,
            template_params=render_params(template_name, context),
            session_id=row["id"],
            child_id=row["child_id"],
            recipient_role=recipient,
        )
        message_ids.append(message_id)
        if template_name == CANCELLATION_REQUEST:
            row = await sessions.record_request_message(conn, row["id"], message_id)
    return row, message_ids


async def _record_event(
    conn: asyncpg.Connection, request: TransitionRequest, row: asyncpg.Record, change: Change
) -> None:
    """The transition's learning event: who did it and, for a consent decision, whose decision it was."""
    actor: dict[str, Any] = {
        "actor_role": request.actor.role,
        "actor_id": str(request.actor.id) if request.actor.id else None,
    }
    decision = {"decision_token": request.decision_token} if request.decision_token else {}
    await insert_learning_event(
        conn,
        child_id=row["child_id"],
        coach_id=row["coach_id"],
        session_id=row["id"],
        event_type=change.event_type.value,
        event_date=request.now,
        event_data=change.event_data | actor | decision,
        content_for_embedding=change.sentence,
        idempotency_key=transition_key(request.session_id, request.request_id),
    )
