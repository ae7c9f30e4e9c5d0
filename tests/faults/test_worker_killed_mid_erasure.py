"""An erasure whose worker is SIGKILLed midway (in the calendar step, a Google Calendar call in flight)
and restarted: the erasure still ends exactly once, with everything scrubbed, the child's data key
shredded, and another family untouched (docs/security.md, "Erasure").

On the time-skipping test server the killed worker's sticky workflow task is never handed on, so this
runs on the real dev server with worker, API and PostgreSQL as separate processes. The killed activity
is retried when its heartbeat timeout (a minute) runs out: this scenario takes about 70 s."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from coach_sessions.temporal import child_erasure_workflow_id, enrollment_workflow_id
from tests.factories import Family, make_family
from tests.faults.conftest import StartCluster
from tests.faults.invariants import Report
from tests.faults.scenario import finish, wait_db, wait_for
from tests.helpers import ADMIN, auth
from tests.test_erasure import _where_found

pytestmark = pytest.mark.faults


async def _enrolled(http: httpx.AsyncClient, cluster: Any, family: Family, tag: str) -> dict[str, str]:
    """The family enrolled through the API (sessions on the calendar), a planted name and learning event."""
    planted = {"child": f"Kidname{tag}", "event": f"event-{tag}"}
    await cluster.pool.execute("UPDATE children SET name = $2 WHERE id = $1", family.child.id, planted["child"])
    start = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    body = {
        "childId": str(family.child.id),
        "coachId": str(family.coach.id),
        "startDate": start,
        "sessionTime": "17:00",
        "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "sessionCount": 3,
    }
    answer = await http.post("/api/enrollments", headers=ADMIN, json=body)
    assert answer.status_code == 201, answer.text
    enrollment = cluster.client.get_workflow_handle(enrollment_workflow_id(answer.json()["enrollment"]["id"]))
    await asyncio.wait_for(enrollment.result(), 30)
    event = {"childId": str(family.child.id), "eventType": "quiz", "content": planted["event"]}
    answer = await http.post("/api/learning-events", headers=auth(family.coach.id), json=event)
    assert answer.status_code == 201, answer.text

    async def on_the_calendar() -> bool:
        return not await cluster.pool.fetchval(
            "SELECT count(*) FROM scheduled_sessions WHERE child_id = $1 AND google_event_id IS NULL", family.child.id
        )

    assert await wait_db(on_the_calendar, within=30), "sessions not on the calendar within 30 s"
    return planted


async def test_worker_killed_mid_erasure_erases_exactly_once(start_cluster: StartCluster) -> None:
    started = time.monotonic()
    cluster = await start_cluster()
    assert cluster.pool is not None and cluster.client is not None
    report = Report("s_erasure_worker_killed")
    family, other = await make_family(cluster.pool), await make_family(cluster.pool)
    async with httpx.AsyncClient(base_url=cluster.api_url, timeout=20) as http:
        planted = await _enrolled(http, cluster, family, "erased1")
        others = await _enrolled(http, cluster, other, "kept1")
        events = {
            r["google_event_id"]
            for r in await cluster.pool.fetch(
                "SELECT google_event_id FROM scheduled_sessions WHERE child_id = $1", family.child.id
            )
        }

        seen = len(cluster.calendar.request_log)
        cluster.calendar.slow(8.0)
        answer = await http.delete(f"/api/children/{family.child.id}", headers=ADMIN)
        assert answer.status_code == 202, answer.text
        if not await wait_for(
            lambda: any(r.method == "DELETE" for r in cluster.calendar.request_log[seen:]), within=20
        ):
            report.add("no calendar DELETE in flight within 20 s: the kill did not land in the calendar step")
        await cluster.kill_worker()
        cluster.calendar.recover()
        await cluster.restart_worker()
        report.figures["killed_after_s"] = round(time.monotonic() - started, 1)

        erasure = cluster.client.get_workflow_handle(child_erasure_workflow_id(family.child.id))
        began = time.monotonic()
        await asyncio.wait_for(erasure.result(), 150)
        report.figures["erasure_done_after_kill_s"] = round(time.monotonic() - began, 1)
        again = await http.delete(f"/api/children/{family.child.id}", headers=ADMIN)
        if again.status_code != 200 or again.json()["status"] != "done":
            report.add(f"a second DELETE answered {again.status_code} {again.text}")

    await _check_erased_once(cluster, family.child.id, planted, others, events, report)
    finish(report, started)


async def _check_erased_once(
    cluster: Any, child_id: UUID, planted: dict[str, str], others: dict[str, str], events: set[str], report: Report
) -> None:
    pool = cluster.pool
    history = await cluster.client.get_workflow_handle(child_erasure_workflow_id(child_id)).fetch_history()
    completed: dict[str, int] = {}
    scheduled = {}
    for e in history.events:
        if e.HasField("activity_task_scheduled_event_attributes"):
            scheduled[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
        if e.HasField("activity_task_completed_event_attributes"):
            name = scheduled[e.activity_task_completed_event_attributes.scheduled_event_id]
            completed[name] = completed.get(name, 0) + 1
    report.figures["activities_completed"] = completed
    if sorted(completed.values()) != [1, 1, 1, 1] or len(completed) != 4:
        report.add(f"each erasure step should complete once: {completed}")
    rows = await pool.fetch("SELECT completed_at FROM child_erasures WHERE child_id = $1", child_id)
    if len(rows) != 1 or rows[0]["completed_at"] is None:
        report.add(f"one completed erasure row expected: {rows}")
    # The parent's placeholder number is drawn from a sequence: one draw in this fresh cluster = one scrub.
    drawn = await pool.fetchrow("SELECT last_value, is_called FROM erased_phone_numbers")
    if (drawn["last_value"], drawn["is_called"]) != (1, True):
        report.add(f"the parent was scrubbed more or less than once: {dict(drawn)}")
    key = await pool.fetchrow("SELECT wrapped_key, shredded_at FROM child_data_keys WHERE child_id = $1", child_id)
    if key is None or key["wrapped_key"] is not None or key["shredded_at"] is None:
        report.add("the child's data key is not shredded")
    found = await _where_found(pool, list(planted.values()))
    if any(found.values()):
        report.add(f"planted strings left: {found}")
    kept = await _where_found(pool, list(others.values()))
    if not all(kept.values()):
        report.add(f"the other family lost data: {kept}")
    live = {event_id for _, event_id in cluster.calendar.live_events()}
    if live & events:
        report.add(f"{len(live & events)} of the child's calendar events are still live")
    deletes = sum(1 for r in cluster.calendar.request_log if r.method == "DELETE")
    report.figures["calendar_deletes"] = deletes
    if deletes <= len(events):  # the killed call's step ran again on the new worker: one more DELETE
        report.add(f"{deletes} calendar DELETEs for {len(events)} events: the step was not cut midway")
