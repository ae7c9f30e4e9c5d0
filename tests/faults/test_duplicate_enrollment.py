"""Scenario 6: the same enrollment POSTed twice (one after the other, then concurrently) makes one
enrollment and one set of sessions; a different start for the same child and coach is a 409."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from coach_sessions.statuses import Role
from tests.factories import make_family
from tests.faults.cluster import Cluster
from tests.faults.conftest import StartCluster
from tests.faults.driver import ADMIN_ID, REQUEST_TIMEOUT
from tests.faults.invariants import Report
from tests.faults.scenario import finish
from tests.helpers import token_for

pytestmark = pytest.mark.faults

SESSIONS = 4


def _body(child_id: UUID, coach_id: UUID, days_ahead: int = 7) -> dict[str, Any]:
    start = (datetime.now(UTC) + timedelta(days=days_ahead)).date().isoformat()
    return {
        "childId": str(child_id),
        "coachId": str(coach_id),
        "startDate": start,
        "sessionTime": "17:00:00",
        "weekdays": ["mon", "thu"],
        "sessionCount": SESSIONS,
    }


async def _post(cluster: Cluster, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token_for(ADMIN_ID, Role.ADMIN)}"}
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
        return await http.post(f"{cluster.api_url}/api/enrollments", json=body, headers=headers)


async def _expect_one(
    cluster: Cluster, child_id: UUID, answers: list[httpx.Response], how: str, report: Report
) -> None:
    assert cluster.pool is not None
    ids = {a.json().get("enrollment", {}).get("id") for a in answers if a.status_code in (200, 201)}
    codes = [a.status_code for a in answers]
    report.figures[f"{how}_answers"] = codes
    if any(c not in (200, 201) for c in codes) or len(ids) != 1:
        report.add(f"{how}: want every answer 200/201 with one enrollment id, got {codes}, ids {ids}")
    enrollments = await cluster.pool.fetchval("SELECT count(*) FROM enrollments WHERE child_id = $1", child_id)
    sessions = await cluster.pool.fetchval("SELECT count(*) FROM scheduled_sessions WHERE child_id = $1", child_id)
    report.figures[f"{how}_rows"] = f"{enrollments} enrollments, {sessions} sessions"
    if (enrollments, sessions) != (1, SESSIONS):
        report.add(f"{how}: {enrollments} enrollments and {sessions} sessions (want 1 and {SESSIONS})")


async def test_duplicate_enrollment_is_one_enrollment(start_cluster: StartCluster) -> None:
    started = time.monotonic()
    cluster = await start_cluster()
    report = Report("s6_duplicate_enrollment")
    assert cluster.pool is not None

    first = await make_family(cluster.pool)
    body = _body(first.child.id, first.coach.id)
    sequential = [await _post(cluster, body), await _post(cluster, body)]
    await _expect_one(cluster, first.child.id, sequential, "sequential", report)

    other = await _post(cluster, _body(first.child.id, first.coach.id, days_ahead=14))
    report.figures["different_start"] = other.status_code
    if other.status_code != 409:
        report.add(
            f"a second enrollment with another start answered {other.status_code} (want 409): {other.text[:200]}"
        )

    second = await make_family(cluster.pool)
    body = _body(second.child.id, second.coach.id)
    concurrent = list(await asyncio.gather(*(_post(cluster, body) for _ in range(3))))
    await _expect_one(cluster, second.child.id, concurrent, "concurrent", report)
    finish(report, started)
