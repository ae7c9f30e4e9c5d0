"""Scenario 1: the worker is SIGKILLed while actions flow, once in each kind of activity (a transition,
a calendar sync held by a slow Google Calendar, a message delivery held by a slow AiSensy), and
restarted each time. The invariants hold afterwards."""

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.fakes import FakeHTTPServer
from tests.faults.cluster import Cluster
from tests.faults.conftest import StartCluster
from tests.faults.driver import Driver, mixed_plans
from tests.faults.invariants import Report, check, check_keyed_retries, converge
from tests.faults.scenario import finish, seconds_until_readyz, wait_for

pytestmark = pytest.mark.faults


async def _kill_while_held(cluster: Cluster, fake: FakeHTTPServer, report: Report, name: str) -> None:
    """Make ``fake`` slow, kill the worker once a request to it is in flight, then heal and restart."""
    seen = len(fake.request_log)
    fake.slow(8.0)
    if not await wait_for(lambda: len(fake.request_log) > seen, within=15):
        report.add(f"no {name} request in flight within 15 s: the kill did not hit that activity")
    await cluster.kill_worker()
    fake.recover()
    await cluster.restart_worker()


async def test_worker_killed_in_each_activity(start_cluster: StartCluster) -> None:
    started = time.monotonic()
    cluster = await start_cluster()
    report = Report("s1_worker_killed")
    seeded = await cluster.seed_sessions(24)
    sessions = [s for s, _ in seeded]
    driver = Driver(cluster.api_url, dict(seeded))
    plans = mixed_plans(sessions)

    async def phase(plans_part: list, fault: Callable[[], object]) -> None:
        stream = asyncio.create_task(driver.stream(plans_part, concurrency=2, pace=0.3, keyed_every=2))
        await asyncio.sleep(0.8)
        await fault()  # type: ignore[misc]
        await stream

    async def in_transition() -> None:
        await cluster.kill_worker()
        # How long /readyz keeps saying "ready" with no worker polling (Temporal notices late).
        report.figures["readyz_503_after_worker_kill_s"] = await seconds_until_readyz(cluster, 503, within=8)
        if report.figures["readyz_503_after_worker_kill_s"] is None:
            report.add("/readyz still 200 8 s after the worker was killed")
        await cluster.restart_worker()

    await phase(plans[:8], in_transition)
    await phase(plans[8:16], lambda: _kill_while_held(cluster, cluster.calendar, report, "calendar"))
    await phase(plans[16:], lambda: _kill_while_held(cluster, cluster.aisensy, report, "AiSensy"))
    report.figures["readyz_200_after_restart_s"] = await seconds_until_readyz(cluster, 200, within=15)
    if report.figures["readyz_200_after_restart_s"] is None:
        report.add("/readyz not 200 within 15 s of the worker being back")

    report.figures["keyed_retries"] = check_keyed_retries(await driver.retry_keyed_failures(), report)
    # A killed activity is retried once its start-to-close timeout (30 s) passes.
    took = await converge(cluster, sessions, within=75)
    report.figures["converged_s"] = round(took, 1) if took is not None else None
    if took is None:
        report.add("not converged within 75 s (messages queued/sending or terminal rows with running workflows)")
    await check(cluster, driver.records, sessions, report)
    finish(report, started)
