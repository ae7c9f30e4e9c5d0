"""A backing service down is a 503 with a machine code, never a 500 or a stack trace."""

from datetime import timedelta

import asyncpg
from temporalio.testing import WorkflowEnvironment

from devtools.embedded import venv_binary
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import TEST_DATA_CONVERTER, api_client, auth


async def test_temporal_down_answers_503(pool: asyncpg.Pool) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(venv_binary("temporal-test-server")), data_converter=TEST_DATA_CONVERTER
    )
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(30)], statuses=["pending"])
    async with api_client(pool, env.client, "nowhere", action_answer_within=timedelta(seconds=1)) as http:
        await env.shutdown()  # the server is gone; the client still points at it
        response = await http.post(
            "/api/sessions/complete", headers=auth(family.coach.id), json={"sessionId": str(session_id)}
        )
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "temporarily_unavailable"  # the client retried up to the bound
        assert response.headers["Retry-After"] == "5"
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["postgres"] == "ok"
        assert ready.json()["checks"]["temporal"].startswith("unavailable")
        # reads do not need Temporal
        assert (
            await http.get(f"/api/sessions?sessionId={session_id}", headers=auth(family.coach.id))
        ).status_code == 200
    assert await pool.fetchval("SELECT status FROM scheduled_sessions WHERE id = $1", session_id) == "pending"
