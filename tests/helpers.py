"""Running a real worker and the real API against the test Temporal server and Postgres."""

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import uvicorn
from google.auth.credentials import AnonymousCredentials
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.server import uvicorn_config
from api.services import Services
from coach_sessions.auth import mint_token
from coach_sessions.contracts import SessionTimerSettings
from coach_sessions.payload_codec import Keyring
from coach_sessions.providers.calendar import CalendarProvider, GoogleCalendarProvider, LocalCalendarProvider
from coach_sessions.providers.whatsapp import AiSensyProvider, LocalWhatsAppProvider, WhatsAppProvider
from coach_sessions.repositories.data_keys import DataKeyRepository
from coach_sessions.settings import Settings
from coach_sessions.statuses import Role
from coach_sessions.temporal import converter_for
from tests.declared_errors import check_declared
from worker import WORKFLOWS, create_worker, heartbeat

if TYPE_CHECKING:  # the fakes are pytest plugins (conftest): importing them here would skip assert rewriting
    from tests.fakes.aisensy import FakeAiSensy
    from tests.fakes.google_calendar import FakeGoogleCalendar

TEST_SECRET = "test-secret-" + "x" * 40
WEBHOOK_SECRET = "webhook-secret-for-tests"
# The suite's payload key (coach_sessions/payload_codec.py): every test client, worker, recorder and
# replayer encrypts with it, as production does with its own. Fixed, so recorded histories decode.
TEST_PAYLOAD_KEYS = "test-k1:dGVzdC1vbmx5LXBheWxvYWQta2V5LTMyLWJ5dGVzISE="
_test_database: list[str] = []


def bind_test_database(dsn: str) -> None:
    """The database_url fixture names the suite's database: children's data keys live there."""
    _test_database[:] = [dsn]


def _test_database_url() -> str:
    if not _test_database:
        raise RuntimeError("a child's workflow was encoded before the database_url fixture ran: request it")
    return _test_database[0]


# As production's data_converter(settings): a child's workflows sealed with the child's data key.
TEST_DATA_CONVERTER = converter_for(Keyring.parse(TEST_PAYLOAD_KEYS), DataKeyRepository(_test_database_url))
# The master key only: tests/histories/*.json are recorded and replayed with it, so they need no database.
TEST_MASTER_CONVERTER = converter_for(Keyring.parse(TEST_PAYLOAD_KEYS))


def test_settings(task_queue: str, **overrides: Any) -> Settings:
    """No minimum notice by default (many tests act on sessions starting within hours); the notice,
    reminders and nudges are tested on their own (test_minimum_notice.py, test_session_reminders.py)."""
    defaults: dict[str, Any] = {
        "app_env": "test",
        "coach_min_notice": timedelta(0),
        "session_reminders": [],
        "pending_nudge_max": 0,
    }
    return Settings(
        auth_jwt_secret=TEST_SECRET,
        payload_encryption_keys=TEST_PAYLOAD_KEYS,
        temporal_task_queue=task_queue,
        aisensy_webhook_secret=WEBHOOK_SECRET,
        **(defaults | overrides),
    )


def token_for(subject: UUID, role: Role = Role.COACH, ttl: timedelta = timedelta(hours=1)) -> str:
    return mint_token(TEST_SECRET, subject, role, ttl)


def auth(subject: UUID, role: Role = Role.COACH) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(subject, role)}"}


ADMIN_ID = UUID("00000000-0000-4000-8000-0000000000a1")
ADMIN = {"Authorization": f"Bearer {token_for(ADMIN_ID, Role.ADMIN)}"}
ADMIN_EMAIL = "test.admin@example.com"


async def add_test_admin(dsn: str, admin_id: UUID = ADMIN_ID) -> None:
    """An admin is a row now (migration 0013): the suite's admin token names this one."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO admins (id, name, email) VALUES ($1, 'Test Admin', $2) ON CONFLICT DO NOTHING",
            admin_id,
            ADMIN_EMAIL if admin_id == ADMIN_ID else f"admin-{admin_id}@example.com",
        )
    finally:
        await conn.close()


@asynccontextmanager
async def running_worker(
    client: Client,
    pool: asyncpg.Pool,
    *,
    calendar: CalendarProvider | None = None,
    whatsapp: WhatsAppProvider | None = None,
    task_queue: str | None = None,
    replace_activities: Sequence[Callable[..., Any]] = (),
    max_cached_workflows: int = 100,
    workflows: Sequence[type] = WORKFLOWS,
    timers: SessionTimerSettings | None = None,
    **worker_options: Any,
) -> AsyncIterator[str]:
    """``worker_options`` go to ``create_worker`` (embedder, brief_writer, brief_lead_time...)."""
    task_queue = task_queue or f"test-{uuid4()}"
    worker = create_worker(
        client,
        pool=pool,
        calendar=calendar or LocalCalendarProvider(pool),
        whatsapp=whatsapp or LocalWhatsAppProvider(),
        task_queue=task_queue,
        max_cached_workflows=max_cached_workflows,
        replace_activities=replace_activities,
        workflows=workflows,
        timers=timers,
        **worker_options,
    )
    async with worker, heartbeat(pool, task_queue, timedelta(seconds=1)):
        yield task_queue


@asynccontextmanager
async def api_client(
    pool: asyncpg.Pool, client: Client, task_queue: str, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = test_settings(task_queue, **overrides)
    app = create_app(settings, services=Services.build(pool, client, settings))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    hooks = {"response": [check_declared(app.openapi())]}
    async with httpx.AsyncClient(transport=transport, base_url="http://test", event_hooks=hooks) as http:
        yield http


@asynccontextmanager
async def real_server(app: Any) -> AsyncIterator[str]:
    """The app under uvicorn on 127.0.0.1 (random port) in this event loop, configured as
    ``python -m api.server`` runs it (its JSON log config aside: pytest captures the logs)."""
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=0))
    server.config.log_config = None
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def eventually(check: Callable[[], Any], *, within: float = 10.0, interval: float = 0.05) -> Any:
    """Poll an async check until it returns a truthy value (bounded; for state reached in the background)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached within {within}s (last: {result!r})")
        await asyncio.sleep(interval)


async def quiescent(client: Client, *workflow_ids: str) -> bool:
    """No workflow task and no activity outstanding for these workflows: a worker may leave now.

    The time-skipping server skips no time while a task waits for a worker, so a test that stops its
    worker before this holds would sleep in real time.
    """
    for workflow_id in workflow_ids:
        raw = (await client.get_workflow_handle(workflow_id).describe()).raw_description
        if raw.HasField("pending_workflow_task") or raw.pending_activities:
            return False
    return True


@dataclass
class Stack:
    """The ``stack`` fixture: API + worker with the real Google and AiSensy clients against the fakes."""

    env: WorkflowEnvironment
    http: httpx.AsyncClient
    task_queue: str
    calendar: "FakeGoogleCalendar"
    aisensy: "FakeAiSensy"
    google: GoogleCalendarProvider
    whatsapp: AiSensyProvider


__all__ = ["WorkflowEnvironment"]


@asynccontextmanager
async def fake_providers(
    fake_google_calendar: "FakeGoogleCalendar", fake_aisensy: "FakeAiSensy"
) -> AsyncIterator[tuple[GoogleCalendarProvider, AiSensyProvider]]:
    """The real Google Calendar and AiSensy clients, pointed at the local fakes."""
    settings = Settings(
        app_env="test",
        auth_jwt_secret="unused-" + "x" * 40,
        calendar_provider="google",
        google_calendar_api_endpoint=fake_google_calendar.api_endpoint,
        whatsapp_provider="aisensy",
        aisensy_api_key=fake_aisensy.api_key,
        aisensy_api_url=fake_aisensy.api_url,
    )
    google = GoogleCalendarProvider(settings, credentials=AnonymousCredentials(), timeout=2.0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0)) as provider_http:
        yield google, AiSensyProvider(settings, provider_http)
