"""Fixtures for the demo seed's tests: a database of its own (the demo coaches' emails are fixed, and
other tests create the demo coach in the shared one), and the test stack running against it."""

import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from coach_sessions.db import apply_migrations, create_pool
from tests.helpers import Stack

if TYPE_CHECKING:  # pytest plugins (conftest): importing them here would skip assert rewriting
    from tests.fakes.aisensy import FakeAiSensy
    from tests.fakes.google_calendar import FakeGoogleCalendar


@pytest.fixture
async def own_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    name = "demo_" + secrets.token_hex(4)
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(database_url)._replace(path="/" + name))
    try:
        await apply_migrations(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=10)
        yield pool
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def demo_stack(
    own_pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    fake_google_calendar: "FakeGoogleCalendar",
    fake_aisensy: "FakeAiSensy",
) -> AsyncIterator[Stack]:
    """The ``stack`` (API + worker against the fakes) on the demo's own database."""
    from tests.conftest import build_stack

    async with build_stack(own_pool, temporal_env, fake_google_calendar, fake_aisensy) as built:
        yield built
