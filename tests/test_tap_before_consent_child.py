"""A parent's tap that arrives before the consent workflow exists waits for it (briefly).

The session workflow answers a coach's request-cancel before it starts the consent child (patch
consent-child-started-after-answer); the webhook must not mistake that gap for a decided request.
"""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from api.services.parent_replies import ParentReplyService
from coach_sessions.contracts import ConsentInput, ParentReply
from coach_sessions.repositories.inbound import InboundRepository
from coach_sessions.statuses import ConsentChoice
from workflows.consent import CancellationConsentWorkflow

TAP = ParentReply(choice=ConsentChoice.APPROVE, inbound_message_id="wamid.early")


def _service(pool: asyncpg.Pool, env: WorkflowEnvironment, wait: float) -> ParentReplyService:
    return ParentReplyService(InboundRepository(pool), env.client, "nobody", child_start_wait=wait)


async def _start_consent(env: WorkflowEnvironment, workflow_id: str) -> None:
    await env.client.start_workflow(
        CancellationConsentWorkflow.run,
        ConsentInput(session_id=uuid4(), request_message_ids=[], expires_at=datetime.now(UTC) + timedelta(days=2)),
        id=workflow_id,
        task_queue=f"nobody-{uuid4()}",  # no worker needed: the signal is recorded in its history
    )


async def test_a_tap_before_the_consent_workflow_starts_is_signalled_once_it_does(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    workflow_id = f"consent-{uuid4()}-1"

    async def start_later() -> None:
        await asyncio.sleep(0.3)
        await _start_consent(temporal_env, workflow_id)

    starter = asyncio.create_task(start_later())
    assert await _service(pool, temporal_env, wait=5.0).signal(workflow_id, TAP)
    await starter
    history = await temporal_env.client.get_workflow_handle(workflow_id).fetch_history()
    signals = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    assert len(signals) == 1 and signals[0].workflow_execution_signaled_event_attributes.signal_name == "parent_reply"
    await temporal_env.client.get_workflow_handle(workflow_id).terminate()


async def test_a_tap_for_a_closed_consent_workflow_is_late_without_waiting(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    workflow_id = f"consent-{uuid4()}-1"
    await _start_consent(temporal_env, workflow_id)
    await temporal_env.client.get_workflow_handle(workflow_id).terminate()
    started = time.monotonic()
    assert not await _service(pool, temporal_env, wait=5.0).signal(workflow_id, TAP)
    assert time.monotonic() - started < 2.0  # closed: no wait for a start that will not come


async def test_a_consent_workflow_that_never_starts_is_given_up_after_the_wait(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    started = time.monotonic()
    assert not await _service(pool, temporal_env, wait=0.3).signal(f"consent-{uuid4()}-1", TAP)
    assert 0.3 <= time.monotonic() - started < 3.0
