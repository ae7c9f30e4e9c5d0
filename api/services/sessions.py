"""Reading sessions, and the seven session actions as named verbs.

Each action is one Temporal update sent to the session's workflow with update-with-start (the
workflow is started if it is not running). The routes call these verbs and never see Temporal.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, TypeVar
from uuid import UUID, uuid4

import asyncpg
from pydantic import BaseModel
from temporalio.client import Client, RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.service import RPCError
from temporalio.workflow import UpdateMethodMultiParam

from api.services.access import visible_session
from api.services.idempotency import NOT_KEPT, KeyedOutcomes, KeyedRequest, key_request_id
from api.services.session_workflow import session_workflow_start
from coach_sessions import parent_messages, rules
from coach_sessions.auth import Principal
from coach_sessions.contracts import (
    Actor,
    CancelInput,
    CompleteInput,
    DecideCancellationInput,
    MarkMissedInput,
    RequestCancellationInput,
    RescheduleInput,
    WithdrawCancellationInput,
)
from coach_sessions.errors import KNOWN_CODES, DomainError, ErrorCode, NotFound
from coach_sessions.models import SessionRecord, SessionView
from coach_sessions.repositories.idempotency import IdempotencyRepository
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.repositories.reconciliations import ReconciliationRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.scheduling import local_datetime
from workflows.session import SessionWorkflow

log = logging.getLogger("coach_sessions.api")

Clock = Callable[[], datetime]
DEADLINE_MARGIN = timedelta(seconds=1)
RETRY_AFTER_SECONDS = 5
# How long an Idempotency-Key claim outlives the answer bound before a retry may take it over: by
# then the holder's update is past its deadline (it can no longer be applied), so its process died.
CLAIM_LEASE_GRACE = timedelta(seconds=10)
UpdateInput = TypeVar("UpdateInput")
# A SessionWorkflow update method: mypy checks each verb's argument against the update it sends.
SessionUpdate = UpdateMethodMultiParam[[SessionWorkflow, UpdateInput], SessionRecord]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SessionService:
    def __init__(
        self,
        sessions: SessionRepository,
        people: PeopleRepository,
        temporal: Client,
        task_queue: str,
        idempotency: IdempotencyRepository,
        *,
        consent_window: timedelta,
        answer_within: timedelta,
        minimum_notice: timedelta = timedelta(0),
        reconciliations: ReconciliationRepository,
        clock: Clock = utc_now,
    ) -> None:
        self._reconciliations = reconciliations
        self._minimum_notice = minimum_notice  # COACH_MIN_NOTICE: applied by the transition rules
        self._keys = KeyedOutcomes(idempotency)
        self._answer_within = answer_within
        self._claim_lease = answer_within + CLAIM_LEASE_GRACE
        self._sessions = sessions
        self._people = people
        self._temporal = temporal
        self._task_queue = task_queue
        self._consent_window = consent_window
        self._clock = clock

    # ----- reads -------------------------------------------------------------------------------

    def view(self, principal: Principal, record: SessionRecord) -> SessionView:
        """The session with the buttons this principal may press now (their refusals otherwise)."""
        return SessionView.of(record, self._clock(), self._minimum_notice, role=principal.role.value)

    async def get(self, principal: Principal, session_id: UUID) -> SessionView:
        return self.view(principal, await visible_session(self._sessions, principal, session_id))

    async def list_for_child(self, principal: Principal, child_id: UUID) -> list[SessionView]:
        """The child's sessions this caller may see. A coach not (or no longer) the child's coach
        sees only the sessions they ran, and gets 404 when there are none."""
        child = await self._people.get_child(child_id)
        if child is None:
            raise NotFound("child", ErrorCode.NOT_FOUND)
        scope = principal.coach_scope()
        records = await self._sessions.list_for_child(child_id, scope)
        if not records and scope is not None and child.coach_id != scope:
            raise NotFound("child", ErrorCode.NOT_FOUND)
        return [self.view(principal, r) for r in records]

    # ----- actions -----------------------------------------------------------------------------
    # Each verb builds the update it sends and hands it to ``_act``. With the caller's Idempotency-Key,
    # a retry gets the first outcome, never a refusal caused by its own earlier success.

    async def complete(
        self,
        principal: Principal,
        session_id: UUID,
        *,
        notes: str | None,
        parent_message: str | None = None,
        idempotency_key: str | None = None,
    ) -> SessionView:
        """``notes`` stay private; the parent's summary carries ``parent_message`` (or a fixed sentence)."""
        record = await visible_session(self._sessions, principal, session_id)
        update = CompleteInput(
            actor=_actor(principal),
            notes=notes,
            parent_message=parent_message,
            **self._stamp(principal, idempotency_key),
        )
        return await self._act(principal, record, SessionWorkflow.complete, update, idempotency_key)

    async def mark_missed(
        self,
        principal: Principal,
        session_id: UUID,
        *,
        notify_parent: bool | None,
        notes: str | None,
        parent_message: str | None = None,
        idempotency_key: str | None = None,
    ) -> SessionView:
        """``notify_parent`` None: the default (``parent_messages.notify_parent``), read from the session's
        end now, and sent in the update as a plain choice, so a retry does not re-decide it."""
        record = await visible_session(self._sessions, principal, session_id)
        notify = parent_messages.notify_parent(notify_parent, parent_message, record.ends_at, self._clock())
        update = MarkMissedInput(
            actor=_actor(principal),
            notify_parent=notify,
            notes=notes,
            parent_message=parent_message if notify else None,
            **self._stamp(principal, idempotency_key),
        )
        return await self._act(principal, record, SessionWorkflow.mark_missed, update, idempotency_key)

    async def reschedule(
        self,
        principal: Principal,
        session_id: UUID,
        *,
        new_date: date,
        new_time: time,
        reason: str | None,
        idempotency_key: str | None = None,
    ) -> SessionView:
        """Move the session to a date and time read in its coach's timezone (must be in the future)."""
        record = await visible_session(self._sessions, principal, session_id)
        update = RescheduleInput(
            actor=_actor(principal),
            new_scheduled_at=await self._coach_local_time(record, new_date, new_time),
            reason=reason,
            minimum_notice=self._minimum_notice,
            **self._stamp(principal, idempotency_key),
        )
        return await self._act(principal, record, SessionWorkflow.reschedule, update, idempotency_key)

    async def cancel(
        self, principal: Principal, session_id: UUID, *, reason: str, idempotency_key: str | None = None
    ) -> SessionView:
        """An admin's cancellation. Coaches cancel through the parent's consent (request_cancellation)."""
        record = await visible_session(self._sessions, principal, session_id)
        update = CancelInput(actor=_actor(principal), reason=reason, **self._stamp(principal, idempotency_key))
        return await self._act(principal, record, SessionWorkflow.cancel, update, idempotency_key)

    async def request_cancellation(
        self, principal: Principal, session_id: UUID, *, reason: str, idempotency_key: str | None = None
    ) -> SessionView:
        """The coach asks the parent; no answer within the consent window approves it."""
        if (by_role := rules.role_refusal(rules.Button.REQUEST_CANCEL, principal.role.value)) is not None:
            raise by_role
        record = await visible_session(self._sessions, principal, session_id)
        update = RequestCancellationInput(
            actor=_actor(principal),
            reason=reason,
            auto_approve_after=self._consent_window,
            minimum_notice=self._minimum_notice,
            **self._stamp(principal, idempotency_key),
        )
        return await self._act(principal, record, SessionWorkflow.request_cancellation, update, idempotency_key)

    async def withdraw_cancellation(
        self, principal: Principal, session_id: UUID, *, idempotency_key: str | None = None
    ) -> SessionView:
        record = await visible_session(self._sessions, principal, session_id)
        update = WithdrawCancellationInput(actor=_actor(principal), **self._stamp(principal, idempotency_key))
        return await self._act(principal, record, SessionWorkflow.withdraw_cancellation, update, idempotency_key)

    async def decide_cancellation(
        self,
        principal: Principal,
        session_id: UUID,
        *,
        decision: Literal["approve", "reject"],
        idempotency_key: str | None = None,
    ) -> SessionView:
        record = await visible_session(self._sessions, principal, session_id)
        update = DecideCancellationInput(
            actor=_actor(principal), decision=decision, **self._stamp(principal, idempotency_key)
        )
        return await self._act(principal, record, SessionWorkflow.decide_cancellation, update, idempotency_key)

    # ----- machinery ---------------------------------------------------------------------------

    async def _act(
        self,
        principal: Principal,
        record: SessionRecord,
        method: SessionUpdate[UpdateInput],
        update: UpdateInput,
        key: str | None,
    ) -> SessionView:
        """Send one action's update; with an Idempotency-Key, at most once per caller and key.

        The key is claimed first: a concurrent copy of the request gets this one's outcome (it waits
        for it, within the answer bound), never a refusal caused by it. The outcome is then kept for
        every retry. Unavailability is not kept, nor is anything after an unexpected error: the key is
        released and a retry runs the action again.
        """
        if key is None:
            return await self._send(principal, record, method, update)
        assert isinstance(update, BaseModel)
        keyed = KeyedRequest.of(principal.id, key, record.id, update)
        held = await self._keys.claim(keyed, wait_within=self._answer_within, lease=self._claim_lease)
        if isinstance(held, SessionView):
            return held  # the outcome of an earlier attempt, or of a concurrent copy
        try:
            view = await self._act_holding_key(principal, record, method, update, keyed.request_id)
        except DomainError as error:
            await self._keys.keep_refusal(held, error)
            raise
        except BaseException:
            await self._keys.release(held)
            raise
        await self._keys.keep_view(held, view)
        return view

    async def _act_holding_key(
        self,
        principal: Principal,
        record: SessionRecord,
        method: SessionUpdate[UpdateInput],
        update: UpdateInput,
        request_id: str,
    ) -> SessionView:
        """The keyed action, run by the request holding the key. The key's request id travels in the
        update and is the transition's idempotency key in Postgres, so an earlier attempt that
        committed (its caller got 503, or its API process died holding the key) is found: that
        commit is the answer, before sending and after a refusal (which the commit itself caused)."""
        if await self._sessions.transition_committed(record.id, request_id):
            return await self._current_view(principal, record)
        try:
            return await self._send(principal, record, method, update, update_id_prefix=request_id)
        except DomainError as error:
            if error.code not in NOT_KEPT and await self._sessions.transition_committed(record.id, request_id):
                return await self._current_view(principal, record)
            raise

    async def _current_view(self, principal: Principal, record: SessionRecord) -> SessionView:
        """The session as it is now (``record`` was read before the action), after a commit found in
        Postgres: its workflow may not know of it (the update was lost), so it is reconciled too."""
        await self._ask_reconciliation(record.id)
        current = await self._sessions.get(record.id)
        if current is None:
            raise NotFound()
        return self.view(principal, current)

    def _refuse_early(self, principal: Principal, record: SessionRecord, update: object) -> None:
        """What the row already says about the action, refused without asking the workflow (which may
        have finished): the same answers the workflow would give."""
        if isinstance(update, CancelInput):
            if (by_role := rules.role_refusal(rules.Button.CANCEL, principal.role.value)) is not None:
                raise by_role
        if isinstance(update, WithdrawCancellationInput | DecideCancellationInput):
            rules.refuse_unless_cancellation_pending(record.session_number, record.cancellation_status)
        if isinstance(update, RescheduleInput) and update.new_scheduled_at <= self._clock():
            raise DomainError(
                ErrorCode.TIME_IN_PAST, f"The new time ({update.new_scheduled_at.isoformat()}) must be in the future."
            )
        rules.refuse_when_finished(record.session_number, record.status)

    def _stamp(self, principal: Principal, key: str | None) -> dict[str, Any]:
        """What every update carries: its deadline and, with an Idempotency-Key, the key's request id."""
        return {"deadline": self._deadline(), "request_id": key_request_id(principal.id, key) if key else None}

    def _deadline(self) -> datetime:
        """When the action stops being wanted: a little before this API stops waiting for it, so a
        worker whose clock runs a little ahead cannot apply it after the caller had a 503."""
        return self._clock() + self._answer_within - min(DEADLINE_MARGIN, self._answer_within / 5)

    async def _send(
        self,
        principal: Principal,
        record: SessionRecord,
        method: SessionUpdate[UpdateInput],
        update: UpdateInput,
        *,
        update_id_prefix: str | None = None,
    ) -> SessionView:
        """Send one update to the session's workflow, starting the workflow if it is not running.

        With a key, every attempt is its own update (a repeated update id would get the first
        attempt's answer back from Temporal, a refusal included) carrying the key's request id."""
        self._refuse_early(principal, record, update)
        update_id = f"{update_id_prefix}-{uuid4().hex[:12]}" if update_id_prefix else None
        start = session_workflow_start(record.id, self._task_queue, restart_finished=True)
        try:
            updated = await asyncio.wait_for(
                self._temporal.execute_update_with_start_workflow(
                    method, update, start_workflow_operation=start, id=update_id
                ),
                self._answer_within.total_seconds(),
            )
        except (TimeoutError, RPCTimeoutOrCancelledError, RPCError) as error:
            # (Cancelled by the bound, the client raises its own RPCTimeoutOrCancelledError.) The action
            # may have committed with its update lost (the Temporal server died in between): the
            # reconciler brings the workflow back to the row, whichever it was.
            await self._ask_reconciliation(record.id)
            if isinstance(error, RPCError) and not isinstance(error, RPCTimeoutOrCancelledError):
                raise
            raise DomainError(
                ErrorCode.TEMPORARILY_UNAVAILABLE,
                "The session service did not answer in time; the action was not applied. Retry it.",
                retry_after=RETRY_AFTER_SECONDS,
            ) from error
        except WorkflowUpdateFailedError as error:
            refusal = _as_domain_error(error)
            if refusal.code == ErrorCode.TEMPORARILY_UNAVAILABLE:
                await self._ask_reconciliation(record.id)
            raise refusal from error
        return self.view(principal, updated)

    async def _ask_reconciliation(self, session_id: UUID) -> None:
        """Best effort: with PostgreSQL down as well, no transition can have committed either."""
        try:
            await self._reconciliations.request("session", session_id)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("reconciliation not recorded", extra={"session_id": str(session_id), "error": repr(error)})

    async def _coach_local_time(self, record: SessionRecord, day: date, at: time) -> datetime:
        coach = await self._people.get_coach(record.coach_id)
        assert coach is not None  # FK
        return local_datetime(day, at.replace(tzinfo=None), coach.timezone)


def _actor(principal: Principal) -> Actor:
    return Actor(id=principal.id, role=principal.role.value)


def _as_domain_error(error: WorkflowUpdateFailedError) -> DomainError:
    """A business refusal keeps its code; anything else (an activity that could not reach a
    dependency, a workflow that failed) is the service being unavailable, not the caller's fault."""
    cause: BaseException | None = error.cause
    while isinstance(cause, FailureError) and not isinstance(cause, ApplicationError):
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type is not None and cause.type in KNOWN_CODES:
        extra = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        return DomainError(cause.type, cause.message, **extra)
    log.error("session update failed", extra={"error": repr(error), "cause": repr(error.cause)})
    return DomainError(
        ErrorCode.TEMPORARILY_UNAVAILABLE,
        "The session service could not complete the action; retry it.",
        retry_after=RETRY_AFTER_SECONDS,
    )
