"""The whole system for one scenario: Postgres, Temporal dev server, worker and API as OS processes,
the fake Google Calendar and AiSensy servers in this process, and seeding helpers.

The worker really talks Google Calendar v3 (service-account credentials whose ``token_uri`` is the
fake's ``/token``) and AiSensy, so no product code needed a hook for this harness.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from coach_sessions.db import apply_migrations, create_pool
from coach_sessions.temporal import connect
from tests.factories import make_family, make_sessions
from tests.fakes.aisensy import FakeAiSensy
from tests.fakes.google_calendar import FakeGoogleCalendar
from tests.fakes.service_account import service_account_file
from tests.faults.procs import PYTHON, Postgres, Process, free_port, poll, port_open, temporal_process
from tests.helpers import TEST_PAYLOAD_KEYS, TEST_SECRET, add_test_admin, test_settings

DATABASE = "coach_sessions_faults"
TASK_QUEUE = "faults"


def make_pg_template(directory: Path) -> Path:
    """A migrated, cleanly stopped data dir that each scenario copies instead of running initdb."""
    postgres = Postgres(directory / "pg")
    dsn = postgres.start(DATABASE)
    asyncio.run(apply_migrations(dsn))
    asyncio.run(add_test_admin(dsn))
    postgres.stop_cleanly()
    return directory / "pg"


@dataclass
class Cluster:
    tmp: Path
    calendar: FakeGoogleCalendar
    aisensy: FakeAiSensy
    postgres: Postgres
    temporal: Process
    worker: Process
    api: Process
    api_url: str
    dsn: str
    temporal_address: str
    pool: asyncpg.Pool | None = None
    client: Client | None = None
    boot_s: float = 0.0
    restarts: dict[str, int] = field(default_factory=lambda: {"worker": 0, "temporal": 0, "postgres": 0, "api": 0})

    # ----- lifecycle ------------------------------------------------------------------------------

    @classmethod
    async def start(
        cls, *, api_env: dict[str, str] | None = None, with_worker: bool = True, pg_template: Path | None = None
    ) -> Cluster:
        tmp = Path(tempfile.mkdtemp(prefix="faults-"))
        calendar, aisensy = FakeGoogleCalendar(), FakeAiSensy()
        calendar.start()
        aisensy.start()
        postgres = Postgres(tmp / "pg")
        temporal, temporal_port = temporal_process(tmp, tmp / "temporal.db")
        cluster = cls(
            tmp=tmp,
            calendar=calendar,
            aisensy=aisensy,
            postgres=postgres,
            temporal=temporal,
            worker=Process("worker", [PYTHON, "worker.py"], {}, tmp),
            api=Process("api", [], {}, tmp),
            api_url="",
            dsn="",
            temporal_address=f"127.0.0.1:{temporal_port}",
        )
        began = time.monotonic()
        try:
            await cluster._boot(api_env or {}, with_worker, pg_template)
            cluster.boot_s = round(time.monotonic() - began, 1)
        except BaseException:
            await cluster.stop()
            raise
        return cluster

    async def _boot(self, api_env: dict[str, str], with_worker: bool, pg_template: Path | None) -> None:
        self.temporal.start()  # boots while Postgres is initialised
        self.dsn = await asyncio.to_thread(self.postgres.start, DATABASE, template=pg_template)
        await apply_migrations(self.dsn)
        await add_test_admin(self.dsn)
        await self.wait_temporal()
        env = {
            **os.environ,
            "APP_ENV": "test",
            "DATABASE_URL": self.dsn,
            "TEMPORAL_ADDRESS": self.temporal_address,
            "TEMPORAL_TASK_QUEUE": TASK_QUEUE,
            "AUTH_JWT_SECRET": TEST_SECRET,
            "PAYLOAD_ENCRYPTION_KEYS": TEST_PAYLOAD_KEYS,
            "CALENDAR_PROVIDER": "google",
            "GOOGLE_SERVICE_ACCOUNT_FILE": str(
                service_account_file(self.tmp / "service-account.json", self.calendar.token_uri)
            ),
            "GOOGLE_CALENDAR_API_ENDPOINT": self.calendar.api_endpoint,
            "WHATSAPP_PROVIDER": "aisensy",
            "AISENSY_API_KEY": self.aisensy.api_key,
            "AISENSY_API_URL": self.aisensy.api_url,
            "LOG_LEVEL": "INFO",
            # The scenarios act on sessions starting within hours and count their messages: no minimum
            # notice, reminders or nudges here (tested on their own: tests/test_session_reminders.py...).
            "COACH_MIN_NOTICE": "0",
            "SESSION_REMINDERS": "",
            "PENDING_NUDGE_MAX": "0",
        }
        self.worker.env = env
        api_port = free_port()
        self.api.env = env | api_env
        self.api.argv = [
            PYTHON,
            *("-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1"),
            *("--port", str(api_port), "--no-access-log"),
        ]
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.pool = await create_pool(self.dsn, min_size=1, max_size=8)
        self.client = await connect(
            test_settings(TASK_QUEUE, database_url=self.dsn), address=self.temporal_address, namespace="default"
        )
        starting = [self.start_api()]
        if with_worker:
            starting.append(self.start_worker())
        await asyncio.gather(*starting)

    async def stop(self) -> None:
        for proc in (self.api, self.worker, self.temporal):
            proc.kill()
        if self.pool is not None:
            self.pool.terminate()
        await asyncio.to_thread(self.postgres.stop)
        self.calendar.stop()
        self.aisensy.stop()
        if not os.environ.get("FAULTS_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ----- components -----------------------------------------------------------------------------

    async def wait_temporal(self) -> None:
        port = int(self.temporal_address.rsplit(":", 1)[1])
        await asyncio.to_thread(poll, lambda: port_open(port), within=30, what="temporal port")

        async def ready() -> bool:
            client = await connect(test_settings(TASK_QUEUE), address=self.temporal_address, namespace="default")
            return bool(await client.service_client.check_health())

        await _async_poll(ready, within=30, what="temporal health")

    async def start_worker(self) -> None:
        self.worker.start()
        await asyncio.to_thread(
            poll, lambda: "worker started" in self.worker.log_text(), within=30, what="worker started"
        )

    async def start_api(self) -> None:
        self.api.start()

        async def healthy() -> bool:
            async with httpx.AsyncClient(timeout=1.0) as http:
                return (await http.get(f"{self.api_url}/healthz")).status_code == 200

        await _async_poll(healthy, within=30, what="api /healthz")

    async def kill_api(self) -> None:
        self.api.kill()

    async def restart_api(self) -> None:
        await self.start_api()
        self.restarts["api"] += 1

    async def kill_worker(self) -> None:
        self.worker.kill()

    async def restart_worker(self) -> None:
        await self.start_worker()
        self.restarts["worker"] += 1

    async def kill_temporal(self) -> None:
        self.temporal.kill()

    async def restart_temporal(self) -> None:
        self.temporal.start()
        await self.wait_temporal()
        self.restarts["temporal"] += 1

    async def kill_postgres(self) -> None:
        await asyncio.to_thread(self.postgres.kill)

    async def restart_postgres(self) -> None:
        await asyncio.to_thread(self.postgres.restart)
        self.restarts["postgres"] += 1
        if self.pool is not None:  # this process's own connections died with the server
            await self.pool.expire_connections()

    async def pollers(self) -> int:
        """Workflow pollers Temporal lists on the task queue (it keeps a dead one for a while)."""
        assert self.client is not None
        answer = await self.client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(namespace="default", task_queue=TaskQueue(name=TASK_QUEUE))
        )
        return len(answer.pollers)

    # ----- data -----------------------------------------------------------------------------------

    async def seed_sessions(self, n: int) -> list[tuple[UUID, UUID]]:
        """``n`` started sessions (status pending, start 2 h ago), each in its own family so that no
        session locks another: [(session_id, coach_id)]."""
        assert self.pool is not None
        started = datetime.now(UTC) - timedelta(hours=2)

        async def one() -> tuple[UUID, UUID]:
            family = await make_family(self.pool)
            [session_id] = await make_sessions(self.pool, family, [started], statuses=["pending"])
            return session_id, family.coach.id

        return list(await asyncio.gather(*(one() for _ in range(n))))


async def _async_poll(check: object, *, within: float, interval: float = 0.1, what: str) -> None:
    deadline = time.monotonic() + within
    last: object = None
    while time.monotonic() < deadline:
        try:
            if await check():  # type: ignore[operator]
                return
        except Exception as error:  # not up yet
            last = error
        await asyncio.sleep(interval)
    raise TimeoutError(f"{what} not reached within {within}s (last: {last!r})")
