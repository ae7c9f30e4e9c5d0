"""Schemathesis in ``make test`` (bounded, fixed seed) and ``make fuzz`` (FUZZ_EXAMPLES=…): zero 5xx and
zero check failures against the real API, worker, Postgres and Temporal test server."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from coach_sessions.statuses import Role
from tests import fuzz, helpers
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN_ID, WEBHOOK_SECRET, real_server, running_worker, token_for

log = logging.getLogger(__name__)


@pytest.fixture
async def live_api(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment, fake_google_calendar: Any, fake_aisensy: Any
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The ``stack`` fixture's worker and providers, with the API under a real uvicorn."""
    async with helpers.fake_providers(fake_google_calendar, fake_aisensy) as (google, whatsapp):
        async with running_worker(temporal_env.client, pool, calendar=google, whatsapp=whatsapp) as task_queue:
            settings = helpers.test_settings(task_queue)
            app = create_app(settings, services=Services.build(pool, temporal_env.client, settings))
            async with real_server(app) as base_url:
                yield base_url, app.openapi()


async def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    live_api: tuple[str, dict[str, Any]], pool: asyncpg.Pool
) -> None:
    base_url, openapi = live_api
    family = await make_family(pool)
    sessions = await make_sessions(
        pool, family, [now_utc() - hours(3), now_utc() - hours(1), now_utc() + hours(48), now_utc() + hours(96)]
    )
    known_ids = [str(i) for i in (*sessions, family.child.id, family.coach.id, family.parent.id)]
    tokens = {"coach": token_for(family.coach.id), "admin": token_for(ADMIN_ID, Role.ADMIN)}
    report = await asyncio.to_thread(
        fuzz.run,
        base_url,
        openapi,
        tokens=tokens,
        known_ids=known_ids,
        webhook_secret=WEBHOOK_SECRET,
        examples=fuzz.examples_per_operation(),
    )
    print("schemathesis:", fuzz.summary(report))  # the figures docs/security.md quotes (pytest -s)
    assert report.cases > 0
    assert report.server_errors == []
    assert report.failures == [], "\n\n".join(report.failures[:10])
