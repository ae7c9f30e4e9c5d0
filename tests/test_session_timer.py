"""SessionWorkflow's timer: scheduled → pending when the session's end passes (time skipping)."""

from datetime import timedelta

import asyncpg
from temporalio.testing import WorkflowEnvironment

from coach_sessions.contracts import SessionWorkflowInput
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.temporal import SESSION_STATUS, session_workflow_id
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import eventually, running_worker
from workflows.session import SessionWorkflow


async def test_session_becomes_pending_when_its_end_passes(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(3)], duration_minutes=60)
    repo = SessionRepository(pool)
    async with running_worker(temporal_env.client, pool) as task_queue:
        handle = await temporal_env.client.start_workflow(
            SessionWorkflow.run,
            SessionWorkflowInput(session_id=session_id),
            id=session_workflow_id(session_id),
            task_queue=task_queue,
        )
        await temporal_env.sleep(hours(3) + timedelta(minutes=30))  # started, not yet ended
        assert (await repo.get(session_id)).status == "scheduled"  # type: ignore[union-attr]
        await temporal_env.sleep(hours(1))  # now past the end
        record = await eventually(lambda: _pending(repo, session_id))
        assert record.version == 2

        async def indexed() -> bool:
            return (await handle.describe()).typed_search_attributes.get(SESSION_STATUS) == "pending"

        await eventually(indexed)


async def _pending(repo: SessionRepository, session_id: object):  # type: ignore[no-untyped-def]
    record = await repo.get(session_id)  # type: ignore[arg-type]
    return record if record is not None and record.status == "pending" else None
