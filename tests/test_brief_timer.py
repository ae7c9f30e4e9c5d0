"""The SessionWorkflow generates the brief a lead time before the session; a reschedule moves that timer."""

from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from coach_sessions.contracts import SessionWorkflowInput
from coach_sessions.temporal import session_workflow_id
from tests.factories import make_family, make_sessions
from tests.helpers import TEST_DATA_CONVERTER, api_client, auth, eventually, running_worker
from workflows.session import SessionWorkflow

KOLKATA = ZoneInfo("Asia/Kolkata")


async def stored_brief_at(pool: asyncpg.Pool, session_id: UUID) -> datetime | None:
    return await pool.fetchval("SELECT generated_at FROM session_briefs WHERE session_id = $1", session_id)  # type: ignore[no-any-return]


async def test_the_brief_is_ready_before_the_session_and_a_reschedule_moves_the_timer(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    family = await make_family(pool)
    await pool.execute(
        "INSERT INTO learning_events (child_id, event_type, content_for_embedding)"
        " VALUES ($1, 'session', 'Struggled with consonant blends; loved the dinosaur book.')",
        family.child.id,
    )
    start = datetime.now(KOLKATA).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    [session_id] = await make_sessions(pool, family, [start])
    client = temporal_env.client
    async with running_worker(client, pool, brief_lead_time=timedelta(hours=2)) as task_queue:
        handle = await client.start_workflow(
            SessionWorkflow.run,
            SessionWorkflowInput(session_id=session_id),
            id=session_workflow_id(session_id),
            task_queue=task_queue,
        )
        moved_to = start + timedelta(days=2)
        async with api_client(pool, client, task_queue) as http:
            answer = await http.patch(
                "/api/sessions",
                headers=auth(family.coach.id),
                json={
                    "sessionId": str(session_id),
                    "newDate": moved_to.date().isoformat(),
                    "newTime": moved_to.strftime("%H:%M"),
                },
            )
            assert answer.status_code == 200, answer.text

        await temporal_env.sleep(timedelta(days=3, hours=1))  # past the old start: the old timer did not fire
        await handle.query(SessionWorkflow.session)  # the workflow has caught up with the skipped time
        assert await stored_brief_at(pool, session_id) is None

        await temporal_env.sleep(timedelta(days=1, hours=22, minutes=30))  # 1.5 h before the new start
        generated_at = await eventually(lambda: stored_brief_at(pool, session_id))
        assert generated_at is not None
        history = await handle.fetch_history()

    # The history (with the "pre-session-brief" patch marker) replays on the current code.
    await Replayer(workflows=[SessionWorkflow], data_converter=TEST_DATA_CONVERTER).replay_workflow(
        WorkflowHistory.from_json(handle.id, history.to_json())
    )
    generations = [
        e
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == "generate_brief"
    ]
    assert len(generations) == 1  # once, for the new time
