"""Request heads over the limit under a real uvicorn (issue 19): 431 with the API's JSON error body.

Before, uvicorn's h11 answered a plain-text 400 and closed while the client was still sending, so the
kernel reset the connection and the client saw no answer; a head that happened to arrive in one read
reached the app instead. Everything here goes over a socket to a real server."""

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.http_protocol import MAX_HEAD_BYTES
from api.services import Services
from tests import helpers
from tests.helpers import ADMIN, real_server

ONE_BIG_HEADER = {"X-Big": "a" * 100_000}
MANY_HEADERS = {f"X-Header-{i}": "v" * 40 for i in range(2_500)}  # ~ 100 KB in small headers


@pytest.fixture
async def server(pool: asyncpg.Pool, temporal_env: WorkflowEnvironment) -> AsyncIterator[str]:
    settings = helpers.test_settings("no-worker-needed")
    async with real_server(create_app(settings, services=Services.build(pool, temporal_env.client, settings))) as url:
        yield url


def _assert_431(response: httpx.Response) -> None:
    assert response.status_code == 431, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "headers_too_large", "detail": response.json()["detail"]}
    assert str(MAX_HEAD_BYTES) in response.json()["detail"]
    assert response.headers["connection"] == "close"
    assert len(response.headers["x-request-id"]) == 32


async def _still_answers(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:
        response = await http.get("/api/coach/children", headers=ADMIN)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("headers", [ONE_BIG_HEADER, MANY_HEADERS], ids=["one-100KB-header", "2500-headers"])
async def test_a_head_over_the_limit_is_431_json_and_the_server_answers_the_next_request(
    server: str, headers: dict[str, str]
) -> None:
    # Repeated: whether the head arrived in one read or several used to change the answer.
    for _ in range(5):
        async with httpx.AsyncClient(base_url=server, timeout=5.0) as http:
            _assert_431(await http.get("/api/coach/children", headers=ADMIN | headers))
        await _still_answers(server)


async def test_a_head_under_the_limit_is_answered_as_before(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=5.0) as http:
        response = await http.get("/api/coach/children", headers=ADMIN | {"X-Big": "a" * (MAX_HEAD_BYTES // 2)})
    assert response.status_code == 200, response.text


async def _raw_exchange(url: str, head: bytes, *, piece: int, pause: float) -> bytes:
    """Send ``head`` in pieces (as a client on a real network does), then read until the server closes."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        for start in range(0, len(head), piece):
            writer.write(head[start : start + piece])
            await writer.drain()
            await asyncio.sleep(pause)
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


@pytest.mark.parametrize(
    "value",
    [b"a" * 100_000, b"a\x00" * 50_000, b"a" * 5_000_000],
    ids=["100KB", "NUL-in-a-100KB-header", "5MB"],
)
async def test_a_slow_sender_of_a_big_head_reads_the_whole_431_without_a_reset(server: str, value: bytes) -> None:
    """The reset came from closing with the client's bytes unread: the server now reads the rest away."""
    head = b"GET /api/coach/children HTTP/1.1\r\nHost: x\r\nX-Big: " + value + b"\r\n\r\n"
    answer = await _raw_exchange(server, head, piece=64 * 1024 if len(value) > 1_000_000 else 4096, pause=0.001)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 431 Request Header Fields Too Large"
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in headers.lower()
    assert json.loads(body)["error"] == "headers_too_large"
    await _still_answers(server)


async def test_a_head_just_over_the_limit_that_arrives_in_one_read_is_431_too(server: str) -> None:
    """h11 measures only an incomplete head: one that arrived whole used to reach the app (200)."""
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 100) + b"\r\n\r\n"
    answer = await _raw_exchange(server, head, piece=len(head), pause=0)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"] == "headers_too_large"


async def test_ten_concurrent_big_heads_are_each_431_and_the_server_still_answers(server: str) -> None:
    async def one() -> httpx.Response:
        async with httpx.AsyncClient(base_url=server, timeout=10.0) as http:
            return await http.get("/api/coach/children", headers=ADMIN | ONE_BIG_HEADER)

    for response in await asyncio.gather(*(one() for _ in range(10))):
        _assert_431(response)
    await _still_answers(server)


async def test_after_a_keep_alive_request_a_big_head_on_the_same_connection_is_431(server: str) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=server, limits=limits, timeout=5.0) as http:
        assert (await http.get("/api/coach/children", headers=ADMIN)).status_code == 200
        _assert_431(await http.get("/api/coach/children", headers=ADMIN | ONE_BIG_HEADER))
        assert (await http.get("/api/coach/children", headers=ADMIN)).status_code == 200  # a new connection
