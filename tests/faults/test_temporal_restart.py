"""Scenario 2: the Temporal server is SIGKILLed at a random moment and restarted (same db file) while
cancellation-consent timers wait and other actions are in flight. The consents auto-approve after the restart."""

import asyncio
import os
import random
import time

import pytest

from tests.faults.conftest import StartCluster
from tests.faults.driver import Driver
from tests.faults.invariants import Report, check, check_keyed_retries, converge
from tests.faults.scenario import finish, readyz, seconds_until_readyz, wait_db

pytestmark = pytest.mark.faults

CONSENT_WINDOW = 20.0  # CANCELLATION_AUTO_APPROVE_AFTER on the API process
DOWN_FOR = 6.0  # longer than the answer bound's ~5 s: callers must get a 503, not a wait


async def test_temporal_restart_with_consent_timers(start_cluster: StartCluster) -> None:
    started = time.monotonic()
    cluster = await start_cluster(api_env={"CANCELLATION_AUTO_APPROVE_AFTER": f"{int(CONSENT_WINDOW)}s"})
    report = Report("s2_temporal_restart")
    seeded = await cluster.seed_sessions(12)
    sessions = [s for s, _ in seeded]
    consent, others = sessions[:4], sessions[4:]
    driver = Driver(cluster.api_url, dict(seeded))
    assert cluster.pool is not None

    await driver.stream([(s, ["request-cancel"]) for s in consent], concurrency=4, pace=0)
    requested_at = time.monotonic()
    kinds = [["complete"], ["missed"], ["reschedule"]]
    stream = asyncio.create_task(
        driver.stream([(s, kinds[i % 3]) for i, s in enumerate(others)], concurrency=2, pace=0.3, keyed_every=2)
    )
    # A random moment of the stream (FAULTS_SEED repeats one): whatever is in flight then.
    seed = int(os.environ.get("FAULTS_SEED") or random.randrange(1 << 30))
    kill_at = random.Random(seed).uniform(0.2, 2.5)
    report.figures["kill_at_s"] = f"{kill_at:.2f} (FAULTS_SEED={seed})"
    await asyncio.sleep(kill_at)
    await cluster.kill_temporal()
    status, took = await readyz(cluster)
    report.figures["readyz_while_temporal_down"] = f"{status} in {took:.1f}s"
    if status != 503:
        report.add(f"/readyz answered {status} while Temporal was down (want 503)")
    await asyncio.sleep(DOWN_FOR)
    await cluster.restart_temporal()
    await stream
    report.figures["readyz_200_after_recovery_s"] = await seconds_until_readyz(cluster, 200, within=15)
    if report.figures["readyz_200_after_recovery_s"] is None:
        report.add("/readyz not 200 within 15 s of Temporal being back")

    report.figures["keyed_retries"] = check_keyed_retries(await driver.retry_keyed_failures(), report)

    # The timers fire CONSENT_WINDOW after the requests; allow 20 s more for the restart and delivery.
    requested_ok = [r.session_id for r in driver.records if r.action == "request-cancel" and r.ok]
    remaining = CONSENT_WINDOW + 20 - (time.monotonic() - requested_at)

    async def all_auto_approved() -> bool:
        assert cluster.pool is not None
        n = await cluster.pool.fetchval(
            "SELECT count(*) FROM scheduled_sessions WHERE id = ANY($1) AND status = 'cancelled'"
            " AND cancellation_status = 'approved' AND cancellation_decided_by = 'auto'",
            requested_ok,
        )
        return bool(n == len(requested_ok))

    approved = await wait_db(all_auto_approved, within=max(remaining, 1.0))
    report.figures["consents_auto_approved"] = f"{len(requested_ok)} requested, all approved: {bool(approved)}"
    if not approved:
        rows = await cluster.pool.fetch(
            "SELECT id, status, cancellation_status, cancellation_decided_by FROM scheduled_sessions"
            " WHERE id = ANY($1)",
            requested_ok,
        )
        report.add(
            f"consents not auto-approved {CONSENT_WINDOW + 20:.0f}s after the request: {[dict(r) for r in rows]}"
        )
    took_converge = await converge(cluster, sessions, within=45)
    report.figures["converged_s"] = round(took_converge, 1) if took_converge is not None else None
    if took_converge is None:
        report.add("not converged within 45 s")
    await check(cluster, driver.records, sessions, report)
    finish(report, started)
