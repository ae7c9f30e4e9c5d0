"""Browser-test support: the app served over real HTTP (uvicorn in-process on a random port) against
the test stack, headless Debian chromium driven by Playwright, console-error capture and axe-core."""

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest
import uvicorn
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from api.app import create_app
from api.services import Services
from coach_sessions.statuses import Role
from tests import helpers
from tests.factories import Family, hours, make_family, make_sessions, now_utc

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


def chromium_or_skip() -> str:
    """Debian's chromium (`make browser` installs it). Under CI a missing browser fails the run."""
    path = shutil.which("chromium")
    if path is None:
        message = "chromium is not installed: run `make browser` (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@asynccontextmanager
async def live_app(stack: helpers.Stack, pool: asyncpg.Pool, **overrides: Any) -> AsyncIterator[str]:
    """The real app (free slots read the fake Google Calendar's freeBusy) on 127.0.0.1:<random>;
    ``overrides`` are settings (the OpenID issuer, APP_ENV)."""
    settings = helpers.test_settings(stack.task_queue, **overrides)
    app = create_app(settings, services=Services.build(pool, stack.env.client, settings, calendar=stack.google))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    path = chromium_or_skip()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=path, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Console:
    """Console errors and uncaught exceptions of a page. Chromium logs every non-2xx fetch as a console
    error; a test that provokes a refusal on purpose names that API path in ``expected``."""

    errors: list[tuple[str, str]] = field(default_factory=list)
    expected: set[str] = field(default_factory=set)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append((f"uncaught: {error}", "")))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append((message.text, str(message.location.get("url", ""))))

    def unexpected(self) -> list[tuple[str, str]]:
        return [
            (text, url)
            for text, url in self.errors
            if not (text.startswith("Failed to load resource") and any(path in url for path in self.expected))
        ]


@asynccontextmanager
async def open_page(browser: Browser, *, width: int = 1280, height: int = 900) -> AsyncIterator[tuple[Page, Console]]:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    console = Console()
    console.attach(page)
    try:
        yield page, console
    finally:
        await context.close()


def sign_in_link(base_url: str, subject: UUID, role: Role = Role.COACH, path: str = "/coach/sessions") -> str:
    """A development link: the fragment's portal token (never sent to a server) is traded for a session cookie."""
    return f"{base_url}{path}#token={helpers.token_for(subject, role)}"


async def goto_signed_in(page: Page, link: str) -> None:
    """Open a ``sign_in_link`` and wait until the page it names is loaded signed in: the link is a
    sign-in page that trades its token and replaces itself, so a test acting right after ``goto``
    would race that second load."""
    await page.goto(link)
    await page.wait_for_function("() => document.body && document.body.dataset.role")
    await page.wait_for_load_state("load")


async def serious_axe_violations(page: Page) -> list[dict[str, Any]]:
    # Evaluated through the DevTools protocol, not added as a <script>: the pages' CSP (script-src
    # 'self') refuses inline scripts, and the test must not loosen it to look at the page.
    if not await page.evaluate("() => typeof axe !== 'undefined'"):
        await page.evaluate(AXE.read_text() + "\n;undefined")
    result = await page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def too_wide(page: Page) -> list[str]:
    """Elements reaching past the viewport's right edge (empty: readable at phone width without
    sideways scrolling). Waits up to 2 s first: charts re-layout after a viewport change."""
    with contextlib.suppress(PlaywrightTimeoutError):
        await page.wait_for_function("() => document.documentElement.scrollWidth <= window.innerWidth", timeout=2000)
    return list(
        await page.evaluate(
            """() => document.documentElement.scrollWidth <= window.innerWidth ? [] :
              [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className).slice(0, 10)"""
        )
    )


# ----- fixtures and builders the page tests share (a test module imports the fixtures it uses) -----


@pytest.fixture
async def base_url(stack: helpers.Stack, pool: asyncpg.Pool) -> AsyncIterator[str]:
    """The app under a real server, on the test stack."""
    async with live_app(stack, pool) as url:
        yield url


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


def row(page: Page, number: int):  # type: ignore[no-untyped-def]
    """A session's row on the sessions page, by its number."""
    return page.locator(f"li.session[data-session-number='{number}']")


async def unresolved_family(pool: asyncpg.Pool) -> tuple[Family, list[UUID]]:
    """#1 and #2 started hours ago and are unresolved (so #2 is locked by #1); #3 and #4 are days ahead."""
    family = await make_family(pool)
    now = now_utc()
    ids = await make_sessions(
        pool,
        family,
        [now - hours(50), now - hours(26), now + hours(72), now + hours(120)],
        statuses=["pending", "pending", "scheduled", "scheduled"],
    )
    return family, ids
