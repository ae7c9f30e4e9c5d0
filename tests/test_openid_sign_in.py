"""OpenID Connect sign-in in Chromium against a real provider (oidc-provider-mock, tests/openid_provider.py):
sign in → the coach's agenda → an action → Sign out → the old cookie is refused; and every way it must
fail: unknown email, unverified email, a tampered state, a replayed authorization code, an ID token from
another issuer. PKCE (S256), state and nonce are checked on what the provider received."""

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.factories import Family
from tests.helpers import ADMIN_EMAIL, Stack
from tests.openid_provider import CLIENT_ID, OpenIdProvider, openid_provider
from tests.pages_support import browser, live_app, open_page, serious_axe_violations, too_wide, unresolved_family

__all__ = ["browser"]  # fixtures (tests/pages_support.py)


@pytest.fixture
def provider() -> Iterator[OpenIdProvider]:
    with openid_provider() as running:
        yield running


@pytest.fixture
async def app_url(stack: Stack, pool: asyncpg.Pool, provider: OpenIdProvider) -> AsyncIterator[str]:
    async with live_app(stack, pool, **provider.settings()) as url:
        yield url


async def _offline(page: Page) -> None:
    # The provider's pages link a stylesheet on a CDN; nothing here may leave the machine.
    await page.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())


async def _sign_in_at_provider(page: Page, app_url: str, sub: str, start: str = "/coach/agenda") -> None:
    await _offline(page)
    await page.goto(app_url + start)
    await page.get_by_role("link", name="Sign in with Test provider").click()
    await page.locator("input[name=sub]").fill(sub)
    await page.get_by_role("button", name="Authorize").click()


async def _session_count(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM sign_in_sessions"))


def _sub() -> str:
    return "user-" + secrets.token_hex(6)


async def test_sign_in_act_sign_out_and_the_old_cookie_is_refused(
    pool: asyncpg.Pool, app_url: str, provider: OpenIdProvider, browser: Browser
) -> None:
    family, ids = await unresolved_family(pool)
    sub = _sub()
    provider.add_user(sub, family.coach.email.upper())  # an email's case is not its identity
    async with open_page(browser) as (page, console):
        await _sign_in_at_provider(page, app_url, sub)
        await expect(page).to_have_url(app_url + "/coach/agenda")  # the coach's agenda, signed in
        await expect(page.locator("#who")).to_have_text(f"Signed in as {family.coach.name}")

        # an action, through the page's own script (cookie + CSRF token)
        await (
            page.locator(f"#needs-you li.agenda-row[data-session-id='{ids[0]}']")
            .get_by_role("button", name="Complete")
            .click()
        )
        dialog = page.locator("#complete-dialog")
        await dialog.get_by_label("Private notes (never sent)").fill("Read two pages.")
        await dialog.get_by_role("button", name="Complete").click()
        await expect(page.locator("#toast")).to_contain_text("Session 1 completed")
        status = await pool.fetchval("SELECT status FROM scheduled_sessions WHERE id = $1", ids[0])
        assert status == "completed"

        (cookie,) = [c for c in await page.context.cookies() if c["name"] == "__Host-coach_session"]
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.locator("#sign-in-reason")).to_have_text("You signed out.")
        console.expected.add("cdn.jsdelivr.net")
        assert console.unexpected() == [], console.unexpected()

    # PKCE with S256, a state and a nonce went to the provider; the verifier came back with the code
    (authorize,) = provider.sent_to("/oauth2/authorize")[:1]
    (token_request,) = provider.sent_to("/oauth2/token")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(token_request["code_verifier"].encode()).digest())
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["code_challenge"] == challenge.rstrip(b"=").decode()
    assert len(authorize["state"]) >= 20 and len(authorize["nonce"]) >= 20 and authorize["client_id"] == CLIENT_ID

    # the cookie someone kept after Sign out opens nothing
    async with httpx.AsyncClient(base_url=app_url) as http:
        me = await http.get("/api/me", headers={"Cookie": f"__Host-coach_session={cookie['value']}"})
        assert me.status_code == 401 and me.json()["error"] == "unauthorized"


async def test_an_admin_signs_in_with_their_email(
    pool: asyncpg.Pool, app_url: str, provider: OpenIdProvider, browser: Browser
) -> None:
    sub = _sub()
    provider.add_user(sub, ADMIN_EMAIL)
    async with open_page(browser) as (page, _console):
        await _sign_in_at_provider(page, app_url, sub)
        await expect(page.locator("#who")).to_have_text("Signed in as Test Admin (admin)")


@pytest.mark.parametrize(
    ("verified", "known", "says"),
    [
        (True, False, "not one of this programme"),
        (False, True, "has not verified that account"),
    ],
    ids=["unknown email", "unverified email"],
)
async def test_nobody_is_signed_in_or_created_for_an_unknown_or_unverified_email(
    pool: asyncpg.Pool,
    app_url: str,
    provider: OpenIdProvider,
    browser: Browser,
    verified: bool,
    known: bool,
    says: str,
) -> None:
    family: Family = (await unresolved_family(pool))[0]
    email = family.coach.email if known else f"stranger-{secrets.token_hex(4)}@example.net"
    sub = _sub()
    provider.add_user(sub, email, verified=verified)
    people = "SELECT (SELECT count(*) FROM coaches) + (SELECT count(*) FROM admins)"
    before = (await _session_count(pool), await pool.fetchval(people))
    async with open_page(browser) as (page, _console):
        await _sign_in_at_provider(page, app_url, sub)
        await expect(page.locator("#sign-in-reason")).to_contain_text(says)
        assert [c for c in await page.context.cookies() if c["name"].endswith("coach_session")] == []
    assert (await _session_count(pool), await pool.fetchval(people)) == before


async def test_a_tampered_state_and_a_replayed_code_are_refused(
    pool: asyncpg.Pool, app_url: str, provider: OpenIdProvider, browser: Browser
) -> None:
    family, _ = await unresolved_family(pool)
    sub = _sub()
    provider.add_user(sub, family.coach.email)
    before = await _session_count(pool)
    async with open_page(browser) as (page, _console):
        await _offline(page)
        await page.goto(app_url + "/coach/agenda")
        await page.get_by_role("link", name="Sign in with Test provider").click()
        await expect(page.locator("input[name=sub]")).to_be_visible()
        # the provider's answer to Authorize, taken before the browser follows it: the redirect back
        async with httpx.AsyncClient() as http:
            authorized = await http.post(page.url, data={"sub": sub})
        callback = authorized.headers["location"]
        assert callback.startswith(app_url + "/auth/callback?") and "state=" in callback and "code=" in callback

        await page.goto(callback.replace("state=", "state=x"))  # its state changed on the way
        await expect(page.locator("#sign-in-reason")).to_contain_text("did not complete")
        assert await _session_count(pool) == before

        await page.goto(callback)  # the real one still works: the tampered copy consumed nothing
        await expect(page.locator("#who")).to_have_text(f"Signed in as {family.coach.name}")
        assert await _session_count(pool) == before + 1

        await page.goto(callback)  # the same code and state again: refused, no second session
        await expect(page.locator("#sign-in-reason")).to_contain_text("did not complete")
        assert await _session_count(pool) == before + 1


async def test_an_id_token_from_another_issuer_is_refused(
    pool: asyncpg.Pool, app_url: str, provider: OpenIdProvider, browser: Browser
) -> None:
    family, _ = await unresolved_family(pool)
    sub = _sub()
    provider.add_user(sub, family.coach.email)
    provider.token_host = "127.0.0.1:" + provider.issuer.rsplit(":", 1)[1]  # iss: http://127.0.0.1:<port>
    before = await _session_count(pool)
    async with open_page(browser) as (page, _console):
        await _sign_in_at_provider(page, app_url, sub)
        await expect(page.locator("#sign-in-reason")).to_contain_text("did not complete")
    assert await _session_count(pool) == before


@pytest.mark.parametrize("width", [390, 1280])
async def test_the_sign_in_page_is_accessible_and_fits_a_phone(app_url: str, browser: Browser, width: int) -> None:
    async with open_page(browser, width=width) as (page, console):
        await page.goto(app_url + "/coach/agenda")
        await expect(page.get_by_role("link", name="Sign in with Test provider")).to_be_visible()
        assert await serious_axe_violations(page) == []
        assert await too_wide(page) == []
        assert console.unexpected() == []
