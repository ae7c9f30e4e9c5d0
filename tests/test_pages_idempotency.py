"""The sessions page sends an Idempotency-Key with each action (issue 19), in headless Chromium against the
real app, Postgres, Temporal and worker: a double click and a retry after a lost answer are applied once.

The answers the page sees are the API's own: a "lost" answer is the real one, fetched and then dropped
on its way to the page (as a timeout or a dropped connection would)."""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
from playwright.async_api import Browser, Page, Request, Response, Route, expect

from coach_sessions.statuses import Role
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN_ID, Stack, eventually
from tests.pages_support import base_url, browser, goto_signed_in, open_page, row, sign_in_link, unresolved_family

UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

__all__ = ["base_url", "browser"]  # fixtures (tests/pages_support.py)


@dataclass
class Sent:
    method: str
    path: str
    key: str | None
    status: int | None = None  # 0: no answer reached the page


class Requests:
    """Every non-GET API request the page sends, with its Idempotency-Key and the status it got."""

    def __init__(self, page: Page) -> None:
        self.sent: list[tuple[Request, Sent]] = []
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("requestfailed", lambda request: self._answered(request, 0))

    def _request(self, request: Request) -> None:
        path = urlsplit(request.url).path
        if request.method != "GET" and path.startswith("/api/"):
            self.sent.append((request, Sent(request.method, path, request.headers.get("idempotency-key"))))

    def _response(self, response: Response) -> None:
        self._answered(response.request, response.status)

    def _answered(self, request: Request, status: int) -> None:
        for known, sent in self.sent:
            if known is request:
                sent.status = status

    def to(self, method: str, path: str) -> list[Sent]:
        return [sent for _, sent in self.sent if (sent.method, sent.path) == (method, path)]

    async def settled(self) -> bool:
        return all(sent.status is not None for _, sent in self.sent)


async def _events(pool: asyncpg.Pool, session_id: UUID) -> list[str]:
    rows = await pool.fetch(
        "SELECT event_type FROM learning_events WHERE session_id = $1 ORDER BY created_at", session_id
    )
    return [r["event_type"] for r in rows]


def _one_key(sent: list[Sent], copies: int = 2) -> str:
    """Both copies of a double click carried the same key, a fresh UUID, and got a real success (the
    one outcome, never a refusal). The second click lands within milliseconds, the first answer takes
    a Temporal round trip: both copies are always sent."""
    assert len(sent) == copies, sent
    keys = {s.key for s in sent}
    assert len(keys) == 1, sent
    [key] = keys
    assert key is not None and UUID_TEXT.match(key), sent
    assert all(s.status is not None and 200 <= s.status < 300 for s in sent), sent
    return key


async def test_a_double_click_on_each_dialog_is_applied_once(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    family, ids = await unresolved_family(pool)
    async with open_page(browser) as (page, console):
        requests = Requests(page)
        await goto_signed_in(page, sign_in_link(base_url, family.coach.id))
        await expect(row(page, 4)).to_be_visible()

        await row(page, 1).get_by_role("button", name="Complete").click()
        complete = page.locator("#complete-dialog")
        await complete.get_by_label("Homework", exact=True).fill("Read 'Owl Babies' aloud")
        await complete.get_by_role("button", name="Complete").dblclick()
        await expect(row(page, 1).locator(".badge")).to_have_text("completed")

        await row(page, 2).get_by_role("button", name="Missed").click()
        await page.locator("#missed-dialog").get_by_role("button", name="Mark missed").dblclick()
        await expect(row(page, 2).locator(".badge")).to_have_text("missed")

        await row(page, 3).get_by_role("button", name="Reschedule").click()
        reschedule = page.locator("#reschedule-dialog")
        await reschedule.get_by_label("Or another time").fill("10:30")
        await reschedule.get_by_role("button", name="Reschedule").dblclick()
        await expect(row(page, 3).locator(".badge")).to_have_text("rescheduled")

        await row(page, 4).get_by_role("button", name="Cancel").click()
        cancel = page.locator("#cancel-dialog")
        await cancel.get_by_label("Reason (required)").fill("Family trip")
        await cancel.get_by_role("button", name="Request cancellation").dblclick()
        await expect(row(page, 4).locator("[data-awaiting]")).to_contain_text("awaiting parent")
        await row(page, 4).get_by_role("button", name="Withdraw").dblclick()
        await expect(row(page, 4).locator("[data-awaiting]")).to_have_count(0)

        await eventually(requests.settled)
        keys = [
            _one_key(requests.to("POST", "/api/sessions/complete")),
            _one_key(requests.to("POST", "/api/sessions/missed")),
            _one_key(requests.to("PATCH", "/api/sessions")),
            _one_key(requests.to("POST", "/api/sessions/request-cancel")),
            _one_key(requests.to("POST", "/api/sessions/withdraw-cancel")),
        ]
        assert len(set(keys)) == len(keys)  # one key per dialog opening, never shared between actions
        assert console.unexpected() == [], console.unexpected()

    assert await _events(pool, ids[0]) == ["session_completed", "homework_assigned"]
    assert await _events(pool, ids[1]) == ["session_missed"]
    assert await _events(pool, ids[2]) == ["session_rescheduled"]
    assert await _events(pool, ids[3]) == ["cancellation_requested", "cancellation_withdrawn"]
    assert await pool.fetchval("SELECT count(*) FROM homework_assignments WHERE child_id = $1", family.child.id) == 1


async def _lose_the_first_answer(page: Page, pattern: str, method: str) -> list[int]:
    """The first such request reaches the API, which answers; that answer is dropped before the page
    reads it. Returns the statuses the API gave to the dropped answers."""
    dropped: list[int] = []

    async def handle(route: Route) -> None:
        if route.request.method == method and not dropped:
            answer = await route.fetch()
            dropped.append(answer.status)
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route(pattern, handle)
    return dropped


async def test_a_retry_after_a_lost_answer_is_the_same_request(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    family, ids = await unresolved_family(pool)
    async with open_page(browser) as (page, console):
        requests = Requests(page)
        console.expected.update({"/api/sessions/complete", "/api/sessions"})
        dropped = await _lose_the_first_answer(page, "**/api/sessions/complete", "POST")
        await goto_signed_in(page, sign_in_link(base_url, family.coach.id))
        await expect(row(page, 4)).to_be_visible()

        await row(page, 1).get_by_role("button", name="Complete").click()
        complete = page.locator("#complete-dialog")
        await complete.get_by_label("Notes").fill("Read two pages.")
        await complete.get_by_role("button", name="Complete").click()
        await expect(complete.locator(".form-error")).to_contain_text("cannot be reached")
        assert dropped == [200]  # it was applied: only its answer was lost
        await complete.get_by_role("button", name="Complete").click()  # the coach retries
        await expect(complete).to_be_hidden()
        await expect(row(page, 1).locator(".badge")).to_have_text("completed")

        # A changed request after a lost answer is another request: a new key (the old one would be
        # refused as reused for another request).
        moved = await _lose_the_first_answer(page, "**/api/sessions", "PATCH")
        await row(page, 3).get_by_role("button", name="Reschedule").click()
        reschedule = page.locator("#reschedule-dialog")
        await reschedule.get_by_label("Or another time").fill("10:30")
        await reschedule.get_by_role("button", name="Reschedule").click()
        await expect(reschedule.locator(".form-error")).to_contain_text("cannot be reached")
        assert moved == [200]
        await reschedule.get_by_label("Or another time").fill("11:30")
        await reschedule.get_by_role("button", name="Reschedule").click()
        await expect(reschedule).to_be_hidden()

        await eventually(requests.settled)
        first, retry = requests.to("POST", "/api/sessions/complete")
        assert first.key == retry.key and first.key is not None and UUID_TEXT.match(first.key)
        assert (first.status, retry.status) == (0, 200)  # the retry got the first outcome, not a 409
        lost, changed = requests.to("PATCH", "/api/sessions")
        assert lost.key != changed.key and changed.status == 200
        assert console.unexpected() == [], console.unexpected()

    assert await _events(pool, ids[0]) == ["session_completed"]
    assert await _events(pool, ids[2]) == ["session_rescheduled", "session_rescheduled"]


async def test_a_refusal_is_not_replayed_to_the_next_submission(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    """A key's outcome is kept, refusals too: once the API has answered, the next submission is a new
    request with a new key, so a rule that no longer holds (a lock lifted meanwhile) is asked again."""
    family, ids = await unresolved_family(pool)
    async with open_page(browser) as (page, console):
        requests = Requests(page)
        console.expected.add("/api/sessions/missed")
        # The dialog asks for its message preview as it opens; on a loaded machine that request can come
        # after the session was changed under it below, and then its 409 is the right answer.
        console.expected.add("/api/sessions/message-preview")
        await goto_signed_in(page, sign_in_link(base_url, family.coach.id))
        await expect(row(page, 4)).to_be_visible()
        await row(page, 1).get_by_role("button", name="Missed").click()
        missed = page.locator("#missed-dialog")
        await pool.execute("UPDATE scheduled_sessions SET status = 'scheduled' WHERE id = $1", ids[0])  # not started
        await pool.execute(
            "UPDATE scheduled_sessions SET scheduled_at = now() + interval '1 day' WHERE id = $1", ids[0]
        )
        await missed.get_by_role("button", name="Mark missed").click()
        await expect(missed.locator(".form-error")).to_contain_text("not started")
        await pool.execute(
            "UPDATE scheduled_sessions SET scheduled_at = now() - interval '50 hours' WHERE id = $1", ids[0]
        )
        await missed.get_by_role("button", name="Mark missed").click()
        await expect(missed).to_be_hidden()
        await eventually(requests.settled)
        refused, done = requests.to("POST", "/api/sessions/missed")
        assert (refused.status, done.status) == (409, 200)
        assert refused.key != done.key
        assert console.unexpected() == [], console.unexpected()


async def test_an_admins_ten_clicks_on_cancel_are_one_cancellation(
    pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(30)])
    async with open_page(browser) as (page, console):
        requests = Requests(page)
        await goto_signed_in(page, sign_in_link(base_url, ADMIN_ID, Role.ADMIN))
        await page.get_by_label("Coach").select_option(str(family.coach.id))
        mine = page.locator(f"#child-{family.child.id} li.session[data-session-number='1']")
        await mine.get_by_role("button", name="Cancel").click()
        cancel = page.locator("#cancel-dialog")
        await cancel.get_by_label("Reason (required)").fill("Coach unavailable")
        await cancel.get_by_role("button", name="Cancel session").click(click_count=10)  # ten copies at once
        await expect(mine.locator(".badge")).to_have_text("cancelled")
        await eventually(requests.settled)
        _one_key(requests.to("DELETE", "/api/sessions"), copies=10)
        assert console.unexpected() == [], console.unexpected()
    assert await _events(pool, session_id) == ["session_cancelled"]
