"""Shared fixtures: one embedded PostgreSQL (real, with pgvector) per test run, migrated once.

Tests isolate themselves by creating their own coach/parent/child rows, so no table is truncated
between tests and tests may run in any order.
"""

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

os.environ.setdefault("APP_ENV", "test")
os.environ.setdefault("AUTH_JWT_SECRET", "test-secret-" + "x" * 40)
# = tests.helpers.TEST_PAYLOAD_KEYS, for the processes tests start (CLI, make run, fault scenarios)
os.environ.setdefault("PAYLOAD_ENCRYPTION_KEYS", "test-k1:dGVzdC1vbmx5LXBheWxvYWQta2V5LTMyLWJ5dGVzISE=")

from coach_sessions.db import apply_migrations, create_pool
from devtools.embedded import EmbeddedPostgres

# The fake Google Calendar and AiSensy servers (real HTTP on 127.0.0.1) and their fixtures.
pytest_plugins = ["tests.fakes.google_calendar", "tests.fakes.aisensy", "tests.fakes.gemini"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-histories",
        action="store_true",
        help="write tests/histories/*.json from tests/record_histories.py (see docs/reliability.md)",
    )


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """``TEST_DATABASE_URL`` if set (an existing server), else a throwaway embedded PostgreSQL."""
    from tests.helpers import add_test_admin, bind_test_database

    existing = os.environ.get("TEST_DATABASE_URL")
    if existing:
        asyncio.run(apply_migrations(existing))
        asyncio.run(add_test_admin(existing))
        bind_test_database(existing)
        yield existing
        return
    tmp = Path(tempfile.mkdtemp(prefix="coach-sessions-test-"))
    pg = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    pg.start()
    try:
        dsn = asyncio.run(pg.ensure_database("coach_sessions_test"))
        asyncio.run(apply_migrations(dsn))
        asyncio.run(add_test_admin(dsn))
        bind_test_database(dsn)
        yield dsn
    finally:
        pg.stop()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=20)
    yield pool
    await pool.close()


# ----- Temporal ---------------------------------------------------------------------------------

from temporalio.api.enums.v1 import IndexedValueType  # noqa: E402
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from coach_sessions.temporal import SEARCH_ATTRIBUTE_KEYS  # noqa: E402
from devtools.embedded import venv_binary  # noqa: E402
from tests.helpers import TEST_DATA_CONVERTER, TEST_MASTER_CONVERTER  # noqa: E402

_INDEXED_TYPES = {
    "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "INT": IndexedValueType.INDEXED_VALUE_TYPE_INT,
}


async def register_search_attributes(env: WorkflowEnvironment) -> None:
    """Without this the time-skipping server fails workflow tasks with BadSearchAttributes."""
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={key.name: _INDEXED_TYPES[key.indexed_value_type.name] for key in SEARCH_ATTRIBUTE_KEYS},
        )
    )


@pytest.fixture
async def temporal_env(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping Temporal test server per test (~0.1 s): each test's clock starts now.

    The codec on, as in production: histories hold ciphertext, a child's under its data key (which
    lives in ``database_url``). Recording tests/histories/ uses the master key alone, so that the saved
    histories replay with no database."""
    recording = request.config.getoption("--record-histories")
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(venv_binary("temporal-test-server")),
        data_converter=TEST_MASTER_CONVERTER if recording else TEST_DATA_CONVERTER,
    )
    try:
        await register_search_attributes(env)
        yield env
    finally:
        await env.shutdown()


# ----- the whole service against fakes ----------------------------------------------------------


from coach_sessions.contracts import SessionTimerSettings  # noqa: E402
from tests.helpers import Stack  # noqa: E402

if TYPE_CHECKING:  # imported as plugins above; importing them here too would skip assert rewriting
    from tests.fakes.aisensy import FakeAiSensy
    from tests.fakes.google_calendar import FakeGoogleCalendar


@pytest.fixture
async def stack(
    pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    fake_google_calendar: "FakeGoogleCalendar",
    fake_aisensy: "FakeAiSensy",
) -> AsyncIterator[Stack]:
    """API + worker with the real Google and AiSensy clients, talking to the local fakes."""
    async with build_stack(pool, temporal_env, fake_google_calendar, fake_aisensy) as built:
        yield built


@asynccontextmanager
async def build_stack(
    pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    fake_google_calendar: "FakeGoogleCalendar",
    fake_aisensy: "FakeAiSensy",
    *,
    timers: "SessionTimerSettings | None" = None,
    **api_overrides: Any,
) -> AsyncIterator[Stack]:
    """The ``stack``, with the sessions' timers and API settings a test chooses."""
    from tests.helpers import api_client, fake_providers, running_worker

    async with fake_providers(fake_google_calendar, fake_aisensy) as (google, whatsapp):
        async with running_worker(temporal_env.client, pool, calendar=google, whatsapp=whatsapp, timers=timers) as tq:
            async with api_client(pool, temporal_env.client, tq, **api_overrides) as http:
                yield Stack(temporal_env, http, tq, fake_google_calendar, fake_aisensy, google, whatsapp)
