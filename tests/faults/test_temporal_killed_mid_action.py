"""Scenario 7: the Temporal server is SIGKILLed while each action's transaction is about to commit.

The deterministic reproduction of a lost update: another connection holds ``SELECT … FOR UPDATE`` on
each session's row, the actions are sent (their transactions wait on the lock inside the worker's
local activity), the server is killed, the locks are released (the transactions commit: PostgreSQL
is ahead of history), and the server is restarted on the same database file. One session per action
(complete, missed, reschedule, request-cancel, withdraw, an admin's decision and cancellation), and an
enrollment posted while the server is down. After the restart, within RECOVERY_BOUND, every row and
its workflow agree, no session refuses every action, every message is sent, every 2xx was applied
exactly once; the enrollment's sessions all have workflows.
"""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from coach_sessions.statuses import Role
from coach_sessions.temporal import session_workflow_id
from tests.factories import make_family
from tests.faults.conftest import StartCluster
from tests.faults.driver import ADMIN_ID, REQUEST_TIMEOUT, Driver
from tests.faults.invariants import Report, check, converge
from tests.faults.scenario import finish, wait_db
from tests.helpers import token_for

pytestmark = pytest.mark.faults

ACTIONS = ["complete", "missed", "reschedule", "request-cancel", "withdraw", "decide", "cancel"]
NEEDS_A_PENDING_REQUEST = {"withdraw", "decide"}
KILL_AFTER = 1.5  # the actions are inside their transactions, waiting on the held row locks
DOWN_FOR = 4.0
RECOVERY_BOUND = 30.0  # seconds after the restart: the reconciler runs every second here


async def _hold_row_locks(dsn: str, session_ids: list[UUID]) -> tuple[asyncpg.Connection, Any]:
    conn = await asyncpg.connect(dsn)
    transaction = conn.transaction()
    await transaction.start()
    await conn.execute("SELECT 1 FROM scheduled_sessions WHERE id = ANY($1) FOR UPDATE", session_ids)
    return conn, transaction


async def _enroll_while_down(cluster: Any) -> tuple[UUID, httpx.Response]:
    family = await make_family(cluster.pool)
    body = {
        "childId": str(family.child.id),
        "coachId": str(family.coach.id),
        "startDate": (datetime.now(UTC) + timedelta(days=7)).date().isoformat(),
        "sessionTime": "17:00:00",
        "weekdays": ["mon", "thu"],
        "sessionCount": 3,
    }
    headers = {"Authorization": f"Bearer {token_for(ADMIN_ID, Role.ADMIN)}"}
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
        answer = await http.post(f"{cluster.api_url}/api/enrollments", json=body, headers=headers)
    return family.child.id, answer


async def _running_workflows(cluster: Any, session_ids: list[UUID]) -> int:
    running = 0
    for session_id in session_ids:
        try:
            description = await cluster.client.get_workflow_handle(session_workflow_id(session_id)).describe()
        except RPCError:
            continue
        running += description.status == WorkflowExecutionStatus.RUNNING
    return running


async def test_temporal_killed_while_each_action_commits(start_cluster: StartCluster) -> None:
    started = time.monotonic()
    cluster = await start_cluster(api_env={"RECONCILE_EVERY": "1s"})
    report = Report("s7_temporal_killed_mid_action")
    assert cluster.pool is not None and cluster.client is not None
    seeded = await cluster.seed_sessions(len(ACTIONS))
    target = {action: session for action, (session, _) in zip(ACTIONS, seeded, strict=True)}
    sessions = [s for s, _ in seeded]
    driver = Driver(cluster.api_url, dict(seeded))

    # withdraw and decide need a request awaiting the parent, asked for while everything is up.
    for action in NEEDS_A_PENDING_REQUEST:
        asked = await driver.send("request-cancel", target[action])
        assert asked.ok, asked.brief()

    conn, held = await _hold_row_locks(cluster.dsn, sessions)
    sending = asyncio.gather(*(driver.send(action, target[action]) for action in ACTIONS))
    await asyncio.sleep(KILL_AFTER)
    await cluster.kill_temporal()
    await held.commit()  # the waiting transactions commit now, with nobody to record their updates
    await conn.close()
    enrolling = asyncio.create_task(_enroll_while_down(cluster))
    await sending
    await asyncio.sleep(DOWN_FOR)
    await cluster.restart_temporal()
    restarted = time.monotonic()
    child_id, enrolled = await enrolling
    report.figures["answers_during_the_kill"] = {r.action: r.status for r in driver.records[-len(ACTIONS) :]}
    report.figures["enrollment_while_down"] = enrolled.status_code

    took = await converge(cluster, sessions, within=RECOVERY_BOUND)
    report.figures["converged_s_after_restart"] = round(time.monotonic() - restarted, 1) if took else None
    if took is None:
        report.add(f"messages or workflows not settled within {RECOVERY_BOUND}s of the restart")

    enrollment_sessions = [
        r["id"] for r in await cluster.pool.fetch("SELECT id FROM scheduled_sessions WHERE child_id = $1", child_id)
    ]

    async def enrollment_has_its_workflows() -> bool:
        return bool(enrollment_sessions) and await _running_workflows(cluster, enrollment_sessions) == len(
            enrollment_sessions
        )

    if not await wait_db(enrollment_has_its_workflows, within=RECOVERY_BOUND):
        report.add(f"the enrollment posted while Temporal was down has sessions without workflows: {enrolled.text}")

    # No session is stuck: each one that is still open takes an action that fits its state.
    still_open = await cluster.pool.fetch(
        "SELECT id, status, cancellation_status FROM scheduled_sessions WHERE id = ANY($1)"
        " AND status NOT IN ('completed', 'missed', 'cancelled')",
        sessions,
    )
    for row in still_open:
        way_out = "withdraw" if row["cancellation_status"] == "pending" else "cancel"
        answer = await driver.send(way_out, row["id"])
        if not answer.ok:
            report.add(f"session {row['status']}/{row['cancellation_status']} refuses {way_out}: {answer.brief()}")
    if await converge(cluster, sessions, within=RECOVERY_BOUND) is None:
        report.add("not settled after the way-out actions")
    await check(cluster, driver.records, sessions + enrollment_sessions, report)
    finish(report, started)
