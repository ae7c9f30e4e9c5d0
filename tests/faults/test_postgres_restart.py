"""Scenario 3: PostgreSQL is SIGKILLed and restarted on the same data dir three times under a stream
of actions. No split state (a row completed while its workflow still says pending), nothing lost."""

import asyncio
import time

import pytest

from tests.faults.conftest import StartCluster
from tests.faults.driver import Driver, mixed_plans
from tests.faults.invariants import Report, check, check_keyed_retries, converge
from tests.faults.scenario import finish, readyz, seconds_until_readyz

pytestmark = pytest.mark.faults

KILLS = 3


async def test_postgres_killed_three_times(start_cluster: StartCluster) -> None:
    started = time.monotonic()
    cluster = await start_cluster()
    report = Report("s3_postgres_restart")
    seeded = await cluster.seed_sessions(24)
    sessions = [s for s, _ in seeded]
    driver = Driver(cluster.api_url, dict(seeded))

    stream = asyncio.create_task(driver.stream(mixed_plans(sessions), concurrency=3, pace=0.3, keyed_every=2))
    readiness = []
    for _ in range(KILLS):
        await asyncio.sleep(1.5)
        await cluster.kill_postgres()
        status, took = await readyz(cluster)
        readiness.append(f"{status} in {took:.1f}s")
        if status != 503:
            report.add(f"/readyz answered {status} while Postgres was down (want 503)")
        await asyncio.sleep(1.5)
        await cluster.restart_postgres()
    await stream
    report.figures["readyz_while_postgres_down"] = readiness
    report.figures["readyz_200_after_recovery_s"] = await seconds_until_readyz(cluster, 200, within=15)
    if report.figures["readyz_200_after_recovery_s"] is None:
        report.add("/readyz not 200 within 15 s of Postgres being back")

    report.figures["keyed_retries"] = check_keyed_retries(await driver.retry_keyed_failures(), report)
    converged = await converge(cluster, sessions, within=60)
    report.figures["converged_s"] = round(converged, 1) if converged is not None else None
    if converged is None:
        report.add("not converged within 60 s")
    await check(cluster, driver.records, sessions, report)
    finish(report, started)
