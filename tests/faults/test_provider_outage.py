"""Scenario 4: AiSensy answers 503 for a long stretch. Actions are unaffected; once it is back every
queued message is delivered exactly once."""

import time

import pytest

from tests.faults.conftest import StartCluster
from tests.faults.driver import Driver
from tests.faults.invariants import ANSWER_BOUND, Report, check, converge
from tests.faults.scenario import finish

pytestmark = pytest.mark.faults

OUTAGE = 12.0


async def test_whatsapp_outage_then_recovery(start_cluster: StartCluster) -> None:
    started = time.monotonic()
    cluster = await start_cluster()
    report = Report("s4_provider_outage")
    assert cluster.pool is not None
    seeded = await cluster.seed_sessions(12)
    sessions = [s for s, _ in seeded]
    driver = Driver(cluster.api_url, dict(seeded))

    cluster.aisensy.outage(503)
    outage_started = time.monotonic()
    kinds = [["complete"], ["missed"], ["request-cancel", "withdraw"]]
    await driver.stream([(s, kinds[i % 3]) for i, s in enumerate(sessions)], concurrency=3, pace=0.1)
    for r in driver.records:
        if not r.ok or r.elapsed > ANSWER_BOUND:
            report.add(f"action affected by the WhatsApp outage: {r.brief()}")
    sent_during = await cluster.pool.fetchval(
        "SELECT count(*) FROM outbound_messages WHERE session_id = ANY($1) AND status = 'sent'", sessions
    )
    if sent_during:
        report.add(f"{sent_during} messages marked sent while AiSensy answered 503")
    await _sleep_until(outage_started + OUTAGE)
    report.figures["attempts_during_outage"] = len(cluster.aisensy.request_log)
    cluster.aisensy.recover()

    # Retries back off (2 s doubling): the next attempt after a 12 s outage is at most ~16 s away.
    took = await converge(cluster, sessions, within=45)
    report.figures["delivered_after_recovery_s"] = round(took, 1) if took is not None else None
    if took is None:
        report.add("messages not all delivered within 45 s of recovery")
    statuses = await cluster.pool.fetch(
        "SELECT status, count(*) FROM outbound_messages WHERE session_id = ANY($1) GROUP BY status", sessions
    )
    if {r["status"] for r in statuses} != {"sent"}:
        report.add(f"after recovery every message should be sent: {[dict(r) for r in statuses]}")
    await check(cluster, driver.records, sessions, report)
    finish(report, started)


async def _sleep_until(moment: float) -> None:
    import asyncio

    await asyncio.sleep(max(0.0, moment - time.monotonic()))
