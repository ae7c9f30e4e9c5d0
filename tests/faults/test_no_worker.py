"""Scenario 5: no worker at all. Actions answer 503 quickly and are not applied later; a retry with an
Idempotency-Key once the worker is back is applied once and answers the same when repeated."""

import asyncio
import time
import uuid

import pytest

from tests.faults.conftest import StartCluster
from tests.faults.driver import Driver
from tests.faults.invariants import ANSWER_BOUND, Report, check, converge
from tests.faults.scenario import finish, readyz, seconds_until_readyz

pytestmark = pytest.mark.faults


async def test_no_worker_answers_503_and_applies_nothing(start_cluster: StartCluster) -> None:
    started = time.monotonic()
    cluster = await start_cluster(with_worker=False)
    report = Report("s5_no_worker")
    seeded = await cluster.seed_sessions(4)
    (a, _), (b, _), (c, _), (d, _) = seeded
    driver = Driver(cluster.api_url, {s: coach for s, coach in seeded})
    assert cluster.pool is not None

    status, _ = await readyz(cluster)
    report.figures["readyz_without_worker"] = status
    if status != 503:
        report.add(f"/readyz answered {status} with no worker polling (want 503)")

    key = str(uuid.uuid4())
    answers = await asyncio.gather(
        driver.send("complete", a),
        driver.send("reschedule", b),
        driver.send("request-cancel", c),
        driver.send("complete", d, idempotency_key=key),
    )
    for r in answers:
        code = r.body.get("error") if isinstance(r.body, dict) else None
        if r.status != 503 or code != "temporarily_unavailable" or r.elapsed > ANSWER_BOUND:
            report.add(f"without a worker want 503 temporarily_unavailable within {ANSWER_BOUND}s: {r.brief()}")

    await cluster.start_worker()
    report.figures["readyz_200_after_worker_s"] = await seconds_until_readyz(cluster, 200, within=15)
    # Long enough for any update still held by Temporal to reach the new worker and run.
    await converge(cluster, [a, b, c], within=5)
    await asyncio.sleep(2)
    rows = await cluster.pool.fetch(
        "SELECT id, status, cancellation_status FROM scheduled_sessions WHERE id = ANY($1)", [a, b, c]
    )
    for row in rows:
        if (row["status"], row["cancellation_status"]) != ("pending", "none"):
            report.add(f"an action answered 503 was applied after the worker came back: {dict(row)}")

    retry = await driver.send("complete", d, idempotency_key=key)
    repeat = await driver.send("complete", d, idempotency_key=key)
    report.figures["keyed_retry"] = f"{retry.status} then {repeat.status}"
    if not retry.ok:
        report.add(f"keyed retry after the worker is back: {retry.brief()} body={retry.body}")
    if (repeat.status, repeat.body) != (retry.status, retry.body):
        report.add(f"repeating the keyed retry answered differently: {retry.brief()} vs {repeat.brief()}")

    await converge(cluster, [a, b, c, d], within=30)
    await check(cluster, driver.records, [a, b, c, d], report)
    finish(report, started)
