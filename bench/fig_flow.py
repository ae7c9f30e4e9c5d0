"""Figure 3: whole consent flows a second (request-cancel → signed webhook Approve → ``cancelled``, with the
outbox and calendar activities) at rising concurrency, with each process's CPU, against the floor of
one-activity workflows a second on the same server (the SDK load test's shape).

Figure 4: scale at rest: enroll children × 12 sessions through the API, worker and server memory as the
count grows, disk per session, then the read and action paths with those workflows asleep."""

import asyncio
import functools
import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client

from bench import profile
from bench.floor_worker import FLOOR_QUEUE, OneActivityWorkflow
from bench.procs import Stack, cpu_seconds, postgres_cpu_seconds, rss_mib
from bench.stats import ratio, summarize
from bench.workload import Target, check, make_targets, now, start_session_workflows, timed, token
from coach_sessions.statuses import Role
from coach_sessions.whatsapp_inbound import SIGNATURE_HEADER, sign
from tests.factories import make_family


def _tap(phone: str, text: str, n: int) -> bytes:
    message = {
        "from": phone.lstrip("+"),
        "id": f"wamid.bench{n:08d}{time.time_ns()}",
        "timestamp": str(int(time.time())),
        "type": "button",
        "button": {"payload": text, "text": text},
    }
    return json.dumps({"topic": "message.sender.user", "project_id": "bench", "data": {"message": message}}).encode()


class CpuMeter:
    """CPU seconds used by each process of the stack (and this load generator) between two readings."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def read(self) -> dict[str, float]:
        import os

        pids = {name: proc.pid for name, proc in self.stack.procs.items()}
        reading = {name: cpu_seconds(pid) for name, pid in pids.items()}
        assert self.stack.pg is not None
        reading["postgres"] = postgres_cpu_seconds(self.stack.pg.data_dir)
        reading["load generator"] = cpu_seconds(os.getpid())
        return reading

    @staticmethod
    def cores(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
        used = {k: round((after[k] - before.get(k, 0.0)) / seconds, 2) for k in after}
        return {k: v for k, v in sorted(used.items(), key=lambda kv: -kv[1]) if v >= 0.01}


async def _send(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request, retried on a dropped keep-alive connection (the server may close an idle one just as
    it is reused). Safe: the POSTs carry an Idempotency-Key, taps are deduplicated by message id."""
    for attempt in range(3):
        try:
            return await http.request(method, url, **kwargs)
        except httpx.TransportError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def one_flow(http: httpx.AsyncClient, webhook_secret: str, target: Target, serial: int) -> tuple[float, float]:
    """request-cancel, the parent's signed Approve, then polling until ``cancelled``: (flow ms, request ms)."""
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {target.token}"}
    body = {"sessionId": str(target.session_id), "reason": "bench trip"}
    keyed = headers | {"Idempotency-Key": f"bench-{target.session_id}"}
    request_ms, _ = await timed(lambda: _send(http, "POST", "/api/sessions/request-cancel", json=body, headers=keyed))
    # The consent workflow sends the request message; the parent taps Approve.
    tap = _tap(target.family.parent.phone, "Approve", serial)
    signed = {"Content-Type": "application/json", SIGNATURE_HEADER: "sha256=" + sign(webhook_secret, tap)}
    answer = check(await _send(http, "POST", "/api/webhooks/aisensy/cancel-response", content=tap, headers=signed), 200)
    if answer.json()["status"] != "signalled":
        raise RuntimeError(f"tap not matched: {answer.text}")
    url = f"/api/sessions?sessionId={target.session_id}"
    while (await _send(http, "GET", url, headers=headers)).json()["session"]["status"] != "cancelled":  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    return (time.perf_counter() - started) * 1000, request_ms


async def consent_flows(
    stack: Stack,
    pool: asyncpg.Pool,
    http: httpx.AsyncClient,
    secrets: tuple[str, str],
    levels: list[int],
    per_level: int,
) -> dict[str, Any]:
    """At each concurrency level, ``max(per_level, 3 × level)`` flows on sessions whose workflows run."""
    secret, webhook_secret = secrets
    meter, out = CpuMeter(stack), {}
    for level in levels:
        targets = await make_targets(pool, secret, max(per_level, level * 3), started=False)
        await start_session_workflows(stack_client(), pool, targets)
        pending = list(enumerate(targets))
        results: list[tuple[float, float]] = []

        async def runner(pending: list[tuple[int, Target]], results: list[tuple[float, float]]) -> None:
            while pending:
                serial, target = pending.pop()
                results.append(await one_flow(http, webhook_secret, target, serial))

        before, started = meter.read(), time.perf_counter()
        await asyncio.gather(*(runner(pending, results) for _ in range(level)))
        seconds = time.perf_counter() - started
        cores = CpuMeter.cores(before, meter.read(), seconds)
        out[f"concurrency_{level}"] = {
            "flows": summarize([f for f, _ in results], seconds=seconds),
            "request_cancel": summarize([r for _, r in results]),
            "cpu_cores_used": cores,
            "cpu_cores_total": round(sum(cores.values()), 2),
        }
    return out


_CLIENT: list[Client] = []


def stack_client() -> Client:
    return _CLIENT[0]


async def one_activity_floor(client: Client, concurrency: int, count: int) -> dict[str, Any]:
    """Workflows of one activity a second on the floor worker (same server, same run)."""
    samples: list[float] = []
    todo = iter(range(count))

    async def runner() -> None:
        for n in todo:
            run = functools.partial(
                client.execute_workflow,
                OneActivityWorkflow.run,
                n,
                id=f"one-activity-{time.time_ns()}-{n}",
                task_queue=FLOOR_QUEUE,
            )
            ms, _ = await timed(run)
            samples.append(ms)

    started = time.perf_counter()
    await asyncio.gather(*(runner() for _ in range(concurrency)))
    return summarize(samples, seconds=time.perf_counter() - started)


async def scale_at_rest(
    stack: Stack, pool: asyncpg.Pool, http: httpx.AsyncClient, secret: str, children: int, sample: Callable[[], Any]
) -> dict[str, Any]:
    """Enroll ``children`` × 12 sessions (ENROLL_CONCURRENCY enrollments at a time), then wait until every
    session workflow is at rest: started (the server's visibility count) *and* through its first tasks
    (its calendar event synced, which the workflow does first). Memory is read as that count grows."""
    await pool.execute(  # an admin token names an admin row (migration 0013)
        "INSERT INTO admins (id, name, email) VALUES ($1, 'Bench Admin', 'bench.admin@example.com')"
        " ON CONFLICT DO NOTHING",
        stack_admin_id(),
    )
    admin = {"Authorization": f"Bearer {token(secret, stack_admin_id(), Role.ADMIN)}"}
    db_before = await pool.fetchval("SELECT pg_database_size(current_database())")
    temporal_db = stack.root / "temporal.db"
    disk_before = _sqlite_bytes(temporal_db)
    worker, server = stack.procs["worker"].pid, stack.procs["temporal"].pid
    growth = [_memory(0, worker, server, 0.0)]
    baseline = (await stack_client().count_workflows(_RUNNING)).count
    synced_before = await pool.fetchval(_SYNCED)
    families = [await make_family(pool, coach=None) for _ in range(children)]
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for family in families:
        queue.put_nowait(family)
    start_date = (now() + timedelta(days=30)).date().isoformat()

    async def enroll() -> None:
        while not queue.empty():
            family = queue.get_nowait()
            body = {
                "childId": str(family.child.id),
                "coachId": str(family.coach.id),
                "startDate": start_date,
                "sessionTime": "16:00",
                "weekdays": ["mon", "thu"],
                "sessionCount": 12,
            }
            check(await http.post("/api/enrollments", json=body, headers=admin), 201)

    # Where the worker's time goes while session workflows are created (each new one builds its sandbox).
    spy_seconds, spy_file = 10, stack.root / "profile-worker-enrolling.txt"
    spy = profile.start(worker, spy_seconds, spy_file)
    meter = CpuMeter(stack)
    cpu_before, started = meter.read(), time.perf_counter()
    await asyncio.gather(*(enroll() for _ in range(ENROLL_CONCURRENCY)))
    api_seconds = time.perf_counter() - started
    # The workflows start after the API has answered (EnrollmentWorkflow starts its children): memory is
    # read against the number of session workflows through their first tasks.
    sessions = children * 12
    step, started_seconds = max(1, sessions // 12), None
    while True:
        running = (await stack_client().count_workflows(_RUNNING)).count - baseline
        at_rest = await pool.fetchval(_SYNCED) - synced_before
        elapsed = time.perf_counter() - started
        if started_seconds is None and running >= sessions:
            started_seconds = elapsed
        if at_rest >= len(growth) * step and at_rest < sessions:
            growth.append(_memory(at_rest, worker, server, elapsed))
        if running >= sessions and at_rest >= sessions:
            break
        if elapsed > max(180, children * 3):
            raise TimeoutError(f"{running} of {sessions} session workflows running, {at_rest} at rest")
        await asyncio.sleep(1)
    seconds = time.perf_counter() - started
    cores = CpuMeter.cores(cpu_before, meter.read(), seconds)
    enrolling_profile = profile.finish(spy, spy_file, spy_seconds)
    growth.append(_memory(sessions, worker, server, seconds))
    await asyncio.sleep(SETTLE_SECONDS)  # idle: what the worker keeps once nothing new arrives
    growth.append(_memory(sessions, worker, server, time.perf_counter() - started))
    disk_after, db_after = (
        _sqlite_bytes(temporal_db),
        await pool.fetchval("SELECT pg_database_size(current_database())"),
    )
    return {
        "children": children,
        "sessions": sessions,
        "enroll_concurrency": ENROLL_CONCURRENCY,
        "worker_max_cached_workflows": int(stack.env["WORKER_MAX_CACHED_WORKFLOWS"]),
        "enroll_api_seconds": round(api_seconds, 1),
        "all_workflows_started_seconds": round(started_seconds or seconds, 1),
        "all_workflows_running_seconds": round(seconds, 1),
        "session_workflows_per_second": round(sessions / seconds, 1),
        "memory": growth,
        "settle_seconds": SETTLE_SECONDS,
        "cpu_cores_used": cores,
        "cpu_cores_total": round(sum(cores.values()), 2),
        "temporal_sqlite_bytes_per_session": round((disk_after - disk_before) / sessions),
        "postgres_bytes_per_session": round((db_after - db_before) / sessions),
        "worker_profile_while_enrolling": enrolling_profile,
        "after": await sample(),
    }


def stack_admin_id() -> Any:
    from uuid import UUID

    return UUID("00000000-0000-4000-8000-00000000be11")


def _memory(sessions: int, worker: int, server: int, seconds: float) -> dict[str, Any]:
    return {
        "sessions": sessions,
        "seconds": round(seconds),
        "worker_rss_mib": rss_mib(worker),
        "temporal_rss_mib": rss_mib(server),
    }


ENROLL_CONCURRENCY = 4  # enrollments posted at a time (an admin's bulk import)
SETTLE_SECONDS = 10
# Sessions through their first workflow task and calendar activity (the session workflow syncs the
# calendar first: a session enrolled here is 'pending' until its workflow has run).
_SYNCED = "SELECT count(*) FROM scheduled_sessions WHERE calendar_sync_status = 'synced'"
_RUNNING = "WorkflowType = 'SessionWorkflow' AND ExecutionStatus = 'Running'"


def _sqlite_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def ratio_or_none(a: float | None, b: float | None) -> float | None:
    return ratio(a, b) if a is not None and b is not None else None
