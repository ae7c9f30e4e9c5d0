"""A 500 under a real uvicorn (issue 8, items 5 and 7): the connection survives, the answer is traceable,
and every line the API process prints is JSON."""

import asyncio
import json
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from tests import helpers
from tests.helpers import ADMIN, TEST_SECRET, real_server, running_worker

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
async def broken_server(pool: asyncpg.Pool, temporal_env: WorkflowEnvironment) -> AsyncIterator[str]:
    """The real app whose child list raises an unexpected error (a bug we have not written yet)."""
    async with running_worker(temporal_env.client, pool) as task_queue:
        settings = helpers.test_settings(task_queue)
        services = Services.build(pool, temporal_env.client, settings)

        async def boom(*_: Any, **__: Any) -> Any:
            raise RuntimeError("an unexpected bug")

        object.__setattr__(services.people, "list_children", boom)
        async with real_server(create_app(settings, services=services)) as base_url:
            yield base_url


async def test_after_a_500_the_keep_alive_connection_still_answers(broken_server: str) -> None:
    """The server used to drop the connection after a 500: a client that sent its next request before
    the FIN arrived saw a reset. Now the same connection (same local port) carries every request."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    local_ports = set()
    async with httpx.AsyncClient(base_url=broken_server, limits=limits, timeout=5.0) as http:
        for _ in range(10):
            failed = await http.get("/api/coach/children", headers=ADMIN)
            assert failed.status_code == 500
            assert failed.json()["error"] == "internal_error"
            assert failed.headers.get("connection", "").lower() != "close"
            follow_up = await http.get("/healthz")
            assert follow_up.status_code == 200, follow_up.text
            for response in (failed, follow_up):
                local_ports.add(response.extensions["network_stream"].get_extra_info("client_addr")[1])
    assert len(local_ports) == 1, local_ports


async def test_a_500_carries_its_request_id_in_the_answer_and_every_log_line(
    broken_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(base_url=broken_server, timeout=5.0) as http:
        failed = await http.get("/api/coach/children", headers=ADMIN | {"X-Request-ID": "trace-me-42"})
    assert failed.status_code == 500
    assert failed.headers["X-Request-ID"] == "trace-me-42"
    error = next(r for r in caplog.records if r.getMessage() == "unhandled error")
    assert (error.request_id, error.method, error.path) == ("trace-me-42", "GET", "/api/coach/children")  # type: ignore[attr-defined]
    assert error.exc_info is not None
    request = next(r for r in caplog.records if r.getMessage() == "request" and r.status == 500)  # type: ignore[attr-defined]
    assert request.request_id == "trace-me-42"  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.name.startswith("uvicorn") and r.levelno >= logging.ERROR]


async def test_a_hostile_request_id_is_replaced(broken_server: str) -> None:
    async with httpx.AsyncClient(base_url=broken_server, timeout=5.0) as http:
        response = await http.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert len(response.headers["X-Request-ID"]) == 32 and response.headers["X-Request-ID"] != "x" * 32


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # type: ignore[no-any-return]


async def test_the_api_process_prints_only_json_lines(database_url: str, temporal_env: WorkflowEnvironment) -> None:
    port = _free_port()
    env = os.environ | {
        "APP_ENV": "test",
        "AUTH_JWT_SECRET": TEST_SECRET,
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
    }
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "api.server", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2.0) as http:
            for _ in range(200):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            assert (await http.get("/nowhere")).status_code == 404
            assert (await http.get("/api/coach/children")).status_code == 401
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # not HTTP at all: uvicorn warns
        writer.write(b"\x16\x03\x01 garbage \r\n\r\n")
        await reader.read(1024)
        writer.close()
    finally:
        process.terminate()
        output, _ = await asyncio.wait_for(process.communicate(), 10)
    lines = [line for line in output.decode().splitlines() if line.strip()]
    assert len(lines) >= 4, output
    parsed = [json.loads(line) for line in lines]  # raises on the first plain-text line
    assert any(p.get("logger", "").startswith("uvicorn") for p in parsed)
    assert any(p.get("msg") == "request" and p.get("status") == 404 and p.get("request_id") for p in parsed)
