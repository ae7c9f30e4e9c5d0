"""Control: the same stream with no fault. Every invariant must hold here, so a violation in a fault
scenario is the fault's doing, not the harness's."""

import time

import pytest

from tests.faults.conftest import StartCluster
from tests.faults.driver import Driver, mixed_plans
from tests.faults.invariants import Report, check, converge
from tests.faults.scenario import finish, readyz

pytestmark = pytest.mark.faults


async def test_no_fault_keeps_every_invariant(start_cluster: StartCluster) -> None:
    started = time.monotonic()
    cluster = await start_cluster()
    report = Report("s0_control")
    seeded = await cluster.seed_sessions(8)
    sessions = [s for s, _ in seeded]
    driver = Driver(cluster.api_url, dict(seeded))
    status, _ = await readyz(cluster)
    if status != 200:
        report.add(f"/readyz answered {status} with everything up")
    await driver.stream(mixed_plans(sessions), concurrency=3, pace=0.0, keyed_every=2)
    if not all(r.ok for r in driver.records):
        report.add(f"with no fault every action should succeed: {[r.brief() for r in driver.records if not r.ok]}")
    took = await converge(cluster, sessions, within=30)
    report.figures["converged_s"] = round(took, 1) if took is not None else None
    if took is None:
        report.add("not converged within 30 s with no fault")
    await check(cluster, driver.records, sessions, report)
    finish(report, started)
