"""The browser security headers (issue 21, "Headers"; api/security_headers.py): on every kind of answer
over real HTTP, and in Chromium every page runs under the Content-Security-Policy with nothing refused,
/docs included, while another origin cannot frame the pages."""

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.security_headers import CONTENT_SECURITY_POLICY
from api.server import uvicorn_config
from api.services import Services
from tests import helpers
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, real_server
from tests.pages_support import Console, base_url, browser, open_page, sign_in_link

__all__ = ["base_url", "browser"]  # fixtures (tests/pages_support.py)

EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"


@pytest.fixture
async def server(pool: asyncpg.Pool, temporal_env: WorkflowEnvironment) -> AsyncIterator[str]:
    """The app under uvicorn as ``python -m api.server`` configures it; its child list raises (a 500)."""
    settings = helpers.test_settings("no-worker-needed")
    services = Services.build(pool, temporal_env.client, settings)

    async def boom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("an unexpected bug")

    object.__setattr__(services.people, "list_children", boom)
    async with real_server(create_app(settings, services=services)) as url:
        yield url


def _assert_headers(answer: httpx.Response, *, hsts: bool = False) -> None:
    where = f"{answer.request.method} {answer.request.url.path} -> {answer.status_code}"
    for name, value in EXPECTED.items():
        assert answer.headers.get_list(name) == [value], where
    assert answer.headers.get_list("strict-transport-security") == ([HSTS] if hsts else []), where


async def test_every_kind_of_answer_carries_the_headers(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10.0) as http:
        answers = {
            "page": await http.get("/coach/sign-in"),
            "redirect to sign in": await http.get("/coach/agenda"),
            "docs": await http.get("/docs"),
            "json": await http.get("/healthz"),
            "static": await http.get("/static/coach.js"),
            "404": await http.get(f"/api/sessions/{uuid4()}", headers=ADMIN),
            "unknown path": await http.get("/no-such-page"),
            "413": await http.post("/api/sessions/request-cancel", headers=ADMIN, content=b"{" + b" " * 70_000 + b"}"),
            "500": await http.get("/api/coach/children", headers=ADMIN),
            "431": await http.get("/healthz", headers={"X-Big": "a" * 20_000}),
        }
    statuses = {kind: answer.status_code for kind, answer in answers.items()}
    assert statuses == {
        "page": 200,
        "redirect to sign in": 303,
        "docs": 200,
        "json": 200,
        "static": 200,
        "404": 404,
        "unknown path": 404,
        "413": 413,
        "500": 500,
        "431": 431,
    }
    for answer in answers.values():
        _assert_headers(answer)


@pytest.mark.parametrize(("allowed", "trusted"), [(None, True), ("10.0.0.1", False)])
async def test_hsts_only_when_the_request_came_over_https(
    pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    monkeypatch: pytest.MonkeyPatch,
    allowed: str | None,
    trusted: bool,
) -> None:
    """uvicorn takes X-Forwarded-Proto as scope["scheme"] only from FORWARDED_ALLOW_IPS (by default
    127.0.0.1, where the test client is: a trusted proxy). From any other client the header is ignored,
    so it cannot switch HSTS on; over plain http there is none."""
    if allowed is None:
        monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    else:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", allowed)
    assert uvicorn_config(None, host="127.0.0.1", port=0).proxy_headers  # what api/server.py runs
    settings = helpers.test_settings("no-worker-needed")
    app = create_app(settings, services=Services.build(pool, temporal_env.client, settings))
    async with real_server(app) as url, httpx.AsyncClient(base_url=url, timeout=10.0) as http:
        for path in ("/coach/agenda", "/healthz"):
            _assert_headers(await http.get(path, headers={"X-Forwarded-Proto": "https"}), hsts=trusted)
            _assert_headers(await http.get(path), hsts=False)
            _assert_headers(await http.get(path, headers={"X-Forwarded-Proto": "http"}), hsts=False)


async def test_a_header_the_route_set_is_kept_and_not_repeated() -> None:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from api.security_headers import SecurityHeadersMiddleware

    app = FastAPI()

    @app.get("/strict")
    async def strict() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Referrer-Policy": "no-referrer"})

    app.add_middleware(SecurityHeadersMiddleware)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        answer = await http.get("/strict")
    assert answer.headers.get_list("referrer-policy") == ["no-referrer"]
    assert answer.headers.get_list("content-security-policy") == [CONTENT_SECURITY_POLICY]


# ----- in Chromium -----------------------------------------------------------------------------------

# Reported by the page itself too, not only by the console: securitypolicyviolation events are what a
# CSP report would carry. The init script runs before any page script (and is not subject to the CSP).
_RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


async def _violations(page: Page, console: Console) -> list[Any]:
    seen: list[Any] = list(await page.evaluate("() => window.__cspViolations"))
    return seen + [text for text, _ in console.errors if "Content Security Policy" in text]


async def test_every_page_runs_under_the_policy(pool: asyncpg.Pool, base_url: str, browser: Browser) -> None:
    """Each page loads, renders what its scripts fetch, and nothing is refused by the policy. On the
    progress page a score is added too, so Chart.js draws (and a form posts) under the policy."""
    family = await make_family(pool)
    now = now_utc()
    await make_sessions(pool, family, [now - hours(26), now + hours(72)], statuses=["pending", "scheduled"])
    coach = family.coach.id
    progress = f"/coach/children/{family.child.id}/progress"
    pages = {  # what shows once the page's scripts have run
        "/coach/sign-in": ("main h1", f"{base_url}/coach/sign-in"),
        "/coach/agenda": ("li.agenda-row", sign_in_link(base_url, coach, path="/coach/agenda")),
        "/coach/sessions": ("li.session", sign_in_link(base_url, coach, path="/coach/sessions")),
        progress: ("#child-name:has-text('progress')", sign_in_link(base_url, coach, path=progress)),
        "/docs": (".opblock", f"{base_url}/docs"),
    }
    for name, (ready, url) in pages.items():
        async with open_page(browser) as (page, console):
            await page.add_init_script(_RECORD_VIOLATIONS)
            await page.goto(url)
            await expect(page.locator(ready).first).to_be_visible()
            if name == progress:
                await page.get_by_label("Score (0\u2013100)").fill("73.5")
                await page.get_by_role("button", name="Add score").click()
                await expect(page.locator("#chart-box")).to_be_visible()
                assert await page.evaluate("() => Chart.getChart('score-chart').data.datasets.length") == 1
            await page.wait_for_load_state("networkidle")
            assert await _violations(page, console) == [], name
            assert console.unexpected() == [], (name, console.unexpected())


async def test_the_policy_is_enforced_on_an_injected_handler(base_url: str, browser: Browser) -> None:
    """The control for the test above: markup injected into a page (as an XSS would) does not run its
    inline handler, and the refusal is seen both ways the test above looks."""
    async with open_page(browser) as (page, console):
        await page.add_init_script(_RECORD_VIOLATIONS)
        await page.goto(f"{base_url}/coach/sign-in")
        await page.evaluate(
            """() => document.body.insertAdjacentHTML('beforeend', '<img src="/nope.png" onerror="window.ran = 1">')"""
        )
        await page.wait_for_function("() => window.__cspViolations.length > 0")
        assert await page.evaluate("() => window.ran") is None
        assert any("script-src" in v for v in await _violations(page, console))


async def test_docs_renders_the_operations(base_url: str, browser: Browser) -> None:
    """The operations list renders, and opening one and its "Try it out" (where Swagger UI draws
    more) is refused nothing either: its styles need no 'unsafe-inline'."""
    async with open_page(browser) as (page, console):
        await page.add_init_script(_RECORD_VIOLATIONS)
        await page.goto(f"{base_url}/docs")
        await expect(page.locator(".opblock").first).to_be_visible()
        assert await page.locator(".opblock").count() > 10
        # validatorUrl null: no badge, so nothing calls validator.swagger.io.
        assert await page.locator(".swagger-ui img[src*='validator']").count() == 0
        await page.locator(".opblock-summary").first.click()
        await expect(page.locator(".opblock-body").first).to_be_visible()
        await page.get_by_role("button", name="Try it out").first.click()
        await expect(page.locator(".opblock-body .execute").first).to_be_visible()
        assert await _violations(page, console) == []
        assert console.unexpected() == []


@contextmanager
def _framer(app_url: str) -> Iterator[str]:
    """Another origin (127.0.0.1 on another port: a loopback page, so Chromium's local-network checks
    do not block the frame for their own reasons) whose / frames the app's agenda and, as the control,
    its own /own page, which nothing forbids framing."""

    class Framer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (
                f'<!doctype html><title>other</title><iframe id="app" src="{app_url}/coach/agenda"></iframe>'
                '<iframe id="own" src="/own"></iframe>'
                if self.path == "/"
                else "<!doctype html><title>own</title><p id='own-page'>framed</p>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:  # not on the test's stderr
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Framer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_another_origin_cannot_frame_a_page(base_url: str, browser: Browser) -> None:
    """Chromium refuses the app's page in another origin's <iframe> (frame-ancestors 'none'): the frame
    never holds the app's page, while the same page's frame of its own origin loads."""
    with _framer(base_url) as other:
        async with open_page(browser) as (page, console):
            await page.goto(f"{other}/")
            await page.wait_for_load_state("networkidle")
            await expect(page.frame_locator("#own").locator("#own-page")).to_have_text("framed")
            app_frame = await (await page.locator("#app").element_handle()).content_frame()  # type: ignore[union-attr]
            assert app_frame is not None
            assert not app_frame.url.startswith(base_url), app_frame.url
            assert await app_frame.locator("header.top").count() == 0
            refused = [text for text, _ in console.errors if "frame-ancestors 'none'" in text]
            assert refused, console.errors
