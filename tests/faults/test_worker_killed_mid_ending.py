"""An enrolment ended while the worker is SIGKILLed (the cancelled sessions' calendar calls in flight) and
restarted: every session still to come is cancelled, its event gone and its sync recorded by the new
worker, and the parent is told once (docs/domain.md, "Ending an enrolment"). A killed sync is retried
after its 30 s call timeout."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from coach_sessions.templates import ENROLLMENT_ENDED
from coach_sessions.temporal import enrollment_workflow_id
from tests.factories import make_family
from tests.faults.conftest import StartCluster
from tests.faults.invariants import Report
from tests.faults.scenario import finish, wait_db, wait_for
from tests.helpers import ADMIN

pytestmark = pytest.mark.faults


async def test_worker_killed_mid_ending_ends_once(start_cluster: StartCluster) -> None:
    started = time.monotonic()
    cluster = await start_cluster()
    assert cluster.pool is not None and cluster.client is not None
    pool, report = cluster.pool, Report("s_ending_worker_killed")
    family = await make_family(pool)
    async with httpx.AsyncClient(base_url=cluster.api_url, timeout=20) as http:
        plan = {
            "childId": str(family.child.id),
            "coachId": str(family.coach.id),
            "startDate": (datetime.now(UTC) + timedelta(days=1)).date().isoformat(),
            "sessionTime": "17:00",
            "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "sessionCount": 3,
        }
        answer = await http.post("/api/enrollments", headers=ADMIN, json=plan)
        assert answer.status_code == 201, answer.text
        enrollment_id = answer.json()["enrollment"]["id"]
        await asyncio.wait_for(cluster.client.get_workflow_handle(enrollment_workflow_id(enrollment_id)).result(), 30)

        async def synced() -> bool:
            return not await pool.fetchval(
                "SELECT count(*) FROM scheduled_sessions WHERE child_id = $1 AND google_event_id IS NULL",
                family.child.id,
            )

        assert await wait_db(synced, within=30), "sessions not on the calendar within 30 s"
        events = {
            r["google_event_id"]
            for r in await pool.fetch(
                "SELECT google_event_id FROM scheduled_sessions WHERE child_id = $1", family.child.id
            )
        }
        seen = len(cluster.calendar.request_log)
        cluster.calendar.slow(8.0)
        answer = await http.post(f"/api/enrollments/{enrollment_id}/end", headers=ADMIN, json={"reason": "Moving away"})
        assert answer.status_code == 200, answer.text
        in_flight = lambda: any(r.method == "DELETE" for r in cluster.calendar.request_log[seen:])  # noqa: E731
        if not await wait_for(in_flight, within=20):
            report.add("no calendar DELETE in flight within 20 s: the kill did not land in a sync")
        await cluster.kill_worker()
        cluster.calendar.recover()
        await cluster.restart_worker()
        report.figures["killed_after_s"] = round(time.monotonic() - started, 1)

        began = time.monotonic()

        async def freed() -> bool:  # the killed syncs ran again on the new worker and recorded their outcome
            live = {event_id for _, event_id in cluster.calendar.live_events()}
            unsynced = await pool.fetchval(
                "SELECT count(*) FROM scheduled_sessions WHERE child_id = $1 AND calendar_sync_status <> 'synced'",
                family.child.id,
            )
            return not live & events and unsynced == 0

        if not await wait_db(freed, within=90):
            report.add("the ended enrolment's events are not all freed and synced 90 s after the restart")
        report.figures["synced_after_kill_s"] = round(time.monotonic() - began, 1)

        async def told() -> bool:
            return await pool.fetchval(
                "SELECT status = 'sent' FROM outbound_messages WHERE idempotency_key = $1",
                f"enrollment-ended:{enrollment_id}",
            )

        if not await wait_db(told, within=30):
            report.add("the parent's message was not sent")
    await asyncio.sleep(1)
    sends = sum(1 for r in cluster.aisensy.request_log if ENROLLMENT_ENDED.encode() in r.body)
    report.figures["parent_messages_sent"] = sends
    if sends != 1:
        report.add(f"the parent got {sends} messages about the ending (want 1)")
    statuses = {
        r["status"]
        for r in await pool.fetch("SELECT status FROM scheduled_sessions WHERE child_id = $1", family.child.id)
    }
    if statuses != {"cancelled"}:
        report.add(f"sessions after the ending: {statuses}")
    finish(report, started)
