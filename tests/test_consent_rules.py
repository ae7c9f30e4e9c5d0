"""The parent-consent decision rules, each with a test that fails when its rule is removed.

- The first decision wins in both of the consent workflow's signal handlers (``parent_reply`` and
  ``decide``): a second decision in the same workflow task must not replace the first.
- A tap quoting a superseded request's message never decides the current request.
- Two pending requests for one number and a tap without context: ambiguous, ignored (not the first).
- A consent workflow found running after a not-found signal is signalled again, not taken for closed.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from temporalio.client import Interceptor, OutboundInterceptor, SignalWorkflowInput
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.services.parent_replies import ParentReplyService
from coach_sessions.contracts import Actor, ConsentDecision, ConsentInput, ParentReply
from coach_sessions.repositories.inbound import InboundRepository
from coach_sessions.statuses import ConsentChoice, DecidedBy
from coach_sessions.whatsapp_inbound import InboundReply
from tests.consent_support import sent_request_message
from tests.factories import Family, make_family, make_sessions, now_utc
from workflows.consent import CancellationConsentWorkflow

COACH = Actor(id=None, role="coach")


async def _consent_decided_by(env: WorkflowEnvironment, *signals: tuple[str, Any]) -> ConsentDecision:
    """Start a consent workflow, send ``signals`` before any worker runs it (so one workflow task sees
    them all), then run it and return its decision."""
    task_queue = f"consent-rules-{uuid4()}"
    handle = await env.client.start_workflow(
        CancellationConsentWorkflow.run,
        ConsentInput(session_id=uuid4(), request_message_ids=[], expires_at=datetime.now(UTC) + timedelta(days=2)),
        id=f"consent-{uuid4()}-1",
        task_queue=task_queue,
    )
    for name, argument in signals:
        await handle.signal(name, argument)
    async with Worker(env.client, task_queue=task_queue, workflows=[CancellationConsentWorkflow]):
        return await handle.result()


def _tap(choice: ConsentChoice, inbound_id: str) -> ParentReply:
    return ParentReply(choice=choice, inbound_message_id=inbound_id)


async def test_the_first_parent_tap_wins_over_a_second_in_the_same_task(temporal_env: WorkflowEnvironment) -> None:
    decision = await _consent_decided_by(
        temporal_env,
        ("parent_reply", _tap(ConsentChoice.RESCHEDULE, "wamid.first")),
        ("parent_reply", _tap(ConsentChoice.APPROVE, "wamid.second")),
    )
    assert (decision.outcome, decision.token) == ("reject", "wamid.first")


async def test_the_first_forwarded_decision_wins_over_a_second_in_the_same_task(
    temporal_env: WorkflowEnvironment,
) -> None:
    withdraw = ConsentDecision(outcome="withdraw", decided_by=DecidedBy.COACH, actor=COACH, token="update-1")
    approve = ConsentDecision(outcome="approve", decided_by=DecidedBy.ADMIN, actor=COACH, token="update-2")
    decision = await _consent_decided_by(temporal_env, ("decide", withdraw), ("decide", approve))
    assert (decision.outcome, decision.token) == ("withdraw", "update-1")


async def test_a_parent_tap_after_a_forwarded_decision_does_not_replace_it(temporal_env: WorkflowEnvironment) -> None:
    withdraw = ConsentDecision(outcome="withdraw", decided_by=DecidedBy.COACH, actor=COACH, token="update-1")
    decision = await _consent_decided_by(
        temporal_env, ("decide", withdraw), ("parent_reply", _tap(ConsentChoice.APPROVE, "wamid.late"))
    )
    assert decision.token == "update-1"


# ----- matching a tap to a request ---------------------------------------------------------------------


async def _pending_request(pool: asyncpg.Pool, session_id: UUID, message_id: UUID, count: int) -> None:
    await pool.execute(
        "UPDATE scheduled_sessions SET cancellation_status = 'pending', cancellation_message_id = $2,"
        " cancellation_request_count = $3::int, consent_workflow_id = 'consent-' || id || '-' || $3::int,"
        " cancellation_reason = 'ill', cancellation_requested_at = now(),"
        " cancellation_expires_at = now() + interval '2 days' WHERE id = $1",
        session_id,
        message_id,
        count,
    )


def _reply(family: Family, *, context: str | None) -> InboundReply:
    return InboundReply(
        provider_message_id=f"wamid.tap-{uuid4()}",
        from_phone=family.parent.phone,
        context_message_id=context,
        button_payload="APPROVE",
        button_text="Approve",
        choice=ConsentChoice.APPROVE,
        payload={},
    )


async def test_a_tap_on_a_superseded_request_never_decides_the_current_one(pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + timedelta(days=3)])
    first = await sent_request_message(pool, session_id, family, f"wamid.first-{uuid4()}")
    second = await sent_request_message(pool, session_id, family, f"wamid.second-{uuid4()}")
    await _pending_request(pool, session_id, second, count=2)  # request 1 was withdrawn; 2 awaits
    first_provider_id = await pool.fetchval("SELECT provider_message_id FROM outbound_messages WHERE id = $1", first)
    match = await InboundRepository(pool).record_reply(_reply(family, context=first_provider_id))
    assert match.kind == "late" and match.session_id == session_id


async def test_two_pending_requests_for_one_number_and_no_context_are_ambiguous(pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    sibling = await make_family(pool, coach=family.coach)
    await pool.execute(  # a second child of the same parent
        "UPDATE children SET parent_id = $2 WHERE id = $1", sibling.child.id, family.parent.id
    )
    for child_family in (family, Family(family.coach, family.parent, sibling.child)):
        [session_id] = await make_sessions(pool, child_family, [now_utc() + timedelta(days=3)])
        message_id = await sent_request_message(pool, session_id, family, f"wamid.req-{uuid4()}")
        await _pending_request(pool, session_id, message_id, count=1)
    match = await InboundRepository(pool).record_reply(_reply(family, context=None))
    assert (match.kind, match.reason, match.session_id) == ("ignored", "ambiguous", None)


# ----- signalling the consent workflow -----------------------------------------------------------------


class _StartsItAfterTheFirstSignal(Interceptor):
    """The consent workflow starts just after a signal found it missing (the session workflow's child
    start racing a tap): the next look finds it running."""

    def __init__(self, start: Any) -> None:
        self.start = start

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        start = self.start

        class Outbound(OutboundInterceptor):
            signals = 0

            async def signal_workflow(self, input: SignalWorkflowInput) -> None:
                Outbound.signals += 1
                try:
                    await super().signal_workflow(input)
                except RPCError as error:
                    if Outbound.signals == 1 and error.status == RPCStatusCode.NOT_FOUND:
                        await start()
                    raise

        return Outbound(next)


async def test_a_consent_workflow_found_running_after_a_not_found_signal_is_signalled_again(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    workflow_id = f"consent-{uuid4()}-1"

    async def start() -> None:
        await temporal_env.client.start_workflow(
            CancellationConsentWorkflow.run,
            ConsentInput(session_id=uuid4(), request_message_ids=[], expires_at=datetime.now(UTC) + timedelta(days=2)),
            id=workflow_id,
            task_queue=f"nobody-{uuid4()}",
        )

    config = temporal_env.client.config()
    config["interceptors"] = [_StartsItAfterTheFirstSignal(start)]
    client = type(temporal_env.client)(**config)
    service = ParentReplyService(InboundRepository(pool), client, "nobody", child_start_wait=0.0)
    assert await service.signal(workflow_id, _tap(ConsentChoice.APPROVE, "wamid.raced"))
    history = await temporal_env.client.get_workflow_handle(workflow_id).fetch_history()
    assert any(e.workflow_execution_signaled_event_attributes.signal_name == "parent_reply" for e in history.events)
    await temporal_env.client.get_workflow_handle(workflow_id).terminate()
