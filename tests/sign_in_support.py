"""Signing in over HTTP as a browser does: a page session (cookie + CSRF token) on the app under test."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import httpx

from coach_sessions.statuses import Role
from tests.helpers import token_for

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
ORIGIN = "https://test"  # the cookie is Secure outside development: the client must speak https to keep it


def csrf_of(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "the page carries no CSRF token"
    return match[1]


@asynccontextmanager
async def page_client(http: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Another client of the same app (the stack's ASGI transport and its contract check), not signed in."""
    async with httpx.AsyncClient(
        transport=http._transport, base_url=ORIGIN, event_hooks=http.event_hooks, follow_redirects=False
    ) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, subject: UUID, role: Role = Role.COACH) -> str:
    """The ``#token=`` link's exchange, then a page for the CSRF token; later requests send both, as
    coach.js does. Returns the session cookie's value."""
    answer = await client.post("/auth/token", json={"token": token_for(subject, role)}, headers={"Origin": ORIGIN})
    assert answer.status_code == 204, answer.text
    page = await client.get("/coach/agenda")
    assert page.status_code == 200, page.status_code
    client.headers.update({"Origin": ORIGIN, "X-CSRF-Token": csrf_of(page.text)})
    (cookie,) = [value for name, value in client.cookies.items() if name.endswith("coach_session")]
    return cookie


@asynccontextmanager
async def signed_in(
    http: httpx.AsyncClient, subject: UUID, role: Role = Role.COACH
) -> AsyncIterator[httpx.AsyncClient]:
    async with page_client(http) as client:
        await sign_in(client, subject, role)
        yield client
