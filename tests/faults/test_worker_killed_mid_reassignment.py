"""A reassignment whose worker is SIGKILLed midway (removing the old coach's events, a Google Calendar call
in flight) and restarted: the move still ends exactly once: one live event per moved session, on the new
coach's calendar only (no duplicate), one message to the parent (docs/domain.md, "Reassigning a child").

The killed step is retried when its heartbeat timeout (30 s) runs out: this scenario takes about 50 s."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from coach_sessions.templates import COACH_CHANGED
from coach_sessions.temporal import enrollment_workflow_id, reassignment_workflow_id
from tests.factories import make_family
from tests.faults.conftest import StartCluster
from tests.faults.invariants import Report
from tests.faults.scenario import finish, wait_db, wait_for
from tests.helpers import ADMIN

pytestmark = pytest.mark.faults


async def test_worker_killed_mid_reassignment_moves_once(start_cluster: StartCluster) -> None:
    started = time.monotonic()
    cluster = await start_cluster()
    assert cluster.pool is not None and cluster.client is not None
    pool, report = cluster.pool, Report("s_reassignment_worker_killed")
    family, new_coach = await make_family(pool), (await make_family(pool)).coach
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
        enrollment = cluster.client.get_workflow_handle(enrollment_workflow_id(answer.json()["enrollment"]["id"]))
        await asyncio.wait_for(enrollment.result(), 30)

        async def synced() -> bool:
            return not await pool.fetchval(
                "SELECT count(*) FROM scheduled_sessions WHERE child_id = $1 AND google_event_id IS NULL",
                family.child.id,
            )

        assert await wait_db(synced, within=30), "sessions not on the calendar within 30 s"
        seen = len(cluster.calendar.request_log)
        cluster.calendar.slow(8.0)
        answer = await http.post(
            f"/api/children/{family.child.id}/reassign", headers=ADMIN, json={"coachId": str(new_coach.id)}
        )
        assert answer.status_code == 202, answer.text
        moved = answer.json()
        if not await wait_for(
            lambda: any(r.method == "DELETE" for r in cluster.calendar.request_log[seen:]), within=20
        ):
            report.add("no calendar DELETE in flight within 20 s: the kill did not land in the removal step")
        await cluster.kill_worker()
        cluster.calendar.recover()
        await cluster.restart_worker()
        report.figures["killed_after_s"] = round(time.monotonic() - started, 1)
        began = time.monotonic()
        handle = cluster.client.get_workflow_handle(reassignment_workflow_id(moved["id"]))
        await asyncio.wait_for(handle.result(), 120)
        report.figures["moved_after_kill_s"] = round(time.monotonic() - began, 1)

    await _check_moved_once(cluster, family.coach.email, new_coach.email, moved, report)
    finish(report, started)


async def _check_moved_once(
    cluster: Any, old_calendar: str, new_calendar: str, moved: dict[str, Any], report: Report
) -> None:
    pool = cluster.pool
    live = cluster.calendar.live_events()
    for session_id in moved["session_ids"]:
        event_id = await pool.fetchval("SELECT google_event_id FROM scheduled_sessions WHERE id = $1::uuid", session_id)
        on_new = [k for k in live if k == (new_calendar, event_id)]
        on_old = [k for k in live if k[0] == old_calendar and k[1] == event_id]
        if len(on_new) != 1 or on_old:
            report.add(f"session {session_id}: {len(on_new)} live events on the new calendar, {len(on_old)} on the old")

    async def delivered() -> bool:
        return await pool.fetchval(
            "SELECT status = 'sent' FROM outbound_messages WHERE id = $1::uuid", moved["message_id"]
        )

    if not await wait_db(delivered, within=15):
        report.add("the parent's message was not sent")
    sends = sum(1 for r in cluster.aisensy.request_log if COACH_CHANGED.encode() in r.body)
    report.figures["parent_messages_sent"] = sends
    if sends != 1:
        report.add(f"the parent got {sends} messages about the new coach (want 1)")
    done = await pool.fetchval("SELECT completed_at FROM reassignments WHERE id = $1::uuid", moved["id"])
    if done is None:
        report.add("the reassignment is not completed")
    history = await cluster.client.get_workflow_handle(reassignment_workflow_id(moved["id"])).fetch_history()
    scheduled: dict[int, str] = {}
    completed: dict[str, int] = {}
    for e in history.events:
        if e.HasField("activity_task_scheduled_event_attributes"):
            scheduled[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
        if e.HasField("activity_task_completed_event_attributes"):
            name = scheduled[e.activity_task_completed_event_attributes.scheduled_event_id]
            completed[name] = completed.get(name, 0) + 1
    report.figures["activities_completed"] = completed
    if set(completed.values()) != {1}:
        report.add(f"each step should complete once: {completed}")
    deletes = sum(1 for r in cluster.calendar.request_log if r.method == "DELETE")
    report.figures["calendar_deletes"] = deletes
    if deletes <= len(moved["session_ids"]):
        report.add(f"{deletes} DELETEs for {len(moved['session_ids'])} old events: the step was not cut midway")
