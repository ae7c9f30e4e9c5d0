"""The coach pages in headless Chromium against the app over real HTTP, real Postgres, the Temporal test
server and worker: sign-in link, the seven buttons' flows, the dashboard's chart, /docs, axe-core."""

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import Stack
from tests.pages_support import (
    Console,
    chromium,
    live_app,
    open_page,
    sign_in_link,
)


@pytest.fixture
async def base_url(stack: Stack, pool: asyncpg.Pool) -> AsyncIterator[str]:
    async with live_app(stack, pool) as url:
        yield url


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


def row(page: Page, number: int):  # type: ignore[no-untyped-def]
    return page.locator(f"li.session[data-session-number='{number}']")


async def _family(pool: asyncpg.Pool) -> tuple[Family, list[object]]:
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


def _clean(console: Console) -> None:
    assert console.unexpected() == [], console.unexpected()


async def test_sessions_page_flows(stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser) -> None:
    family, ids = await _family(pool)
    async with open_page(browser) as (page, console):
        await page.goto(sign_in_link(base_url, family.coach.id))
        await expect(row(page, 4)).to_be_visible()
        # the token moved into session storage and out of the address bar
        assert "#" not in page.url and "token" not in page.url
        stored = await page.evaluate("() => sessionStorage.getItem('coachSessionsToken')")
        assert stored and stored.startswith("eyJ")
        await page.evaluate("() => { window.__noReload = true; }")

        # #2 is locked by #1: 🔒 with the blocking session named
        locked = row(page, 2).get_by_role("button", name="Complete")
        await expect(locked).to_have_attribute("aria-disabled", "true")
        await expect(locked).to_contain_text("🔒")
        await expect(locked).to_have_attribute(
            "title", "Session 1 must be completed, missed, cancelled or rescheduled first."
        )

        # complete #1 (keyboard: focus, Enter) with a reading score and homework → #2's lock goes
        await row(page, 1).get_by_role("button", name="Complete").focus()
        await page.keyboard.press("Enter")
        dialog = page.locator("#complete-dialog")
        await expect(dialog).to_be_visible()
        await dialog.get_by_label("Notes").fill("Read two pages fluently.")
        await dialog.get_by_label("Homework", exact=True).fill("Read 'Owl Babies' aloud")
        await dialog.get_by_label("Reading score").fill("64")
        await dialog.get_by_role("button", name="Complete").click()
        await expect(dialog).to_be_hidden()
        await expect(page.locator("#toast")).to_contain_text("Session 1 completed")
        await expect(row(page, 1).locator(".badge")).to_have_text("completed")
        await expect(row(page, 2).get_by_role("button", name="Complete")).not_to_have_attribute("aria-disabled", "true")

        # mark #2 missed (orange button only where can_mark_missed)
        assert await row(page, 3).get_by_role("button", name="Missed").count() == 0
        await row(page, 2).get_by_role("button", name="Missed").click()
        missed = page.locator("#missed-dialog")
        await missed.get_by_label("Notes").fill("No answer on the link.")
        await missed.get_by_role("button", name="Mark missed").click()
        await expect(row(page, 2).locator(".badge")).to_have_text("missed")

        # reschedule #3 through the first free slot → the row shows the new time
        await row(page, 3).get_by_role("button", name="Reschedule").click()
        reschedule = page.locator("#reschedule-dialog")
        first_slot = reschedule.locator("input[name=slot]").first
        await expect(first_slot).to_be_visible()
        slot_time = await first_slot.get_attribute("value")
        day = await reschedule.get_by_label("Day").input_value()
        await first_slot.check()
        await reschedule.get_by_role("button", name="Reschedule").click()
        await expect(reschedule).to_be_hidden()
        await expect(row(page, 3).locator(".badge")).to_have_text("rescheduled")
        await expect(row(page, 3).locator(".when")).to_contain_text(str(slot_time))
        moved = await pool.fetchval(
            "SELECT scheduled_at FROM scheduled_sessions WHERE child_id = $1 AND session_number = 3", family.child.id
        )
        assert moved.astimezone(ZoneInfo(family.coach.timezone)).strftime("%Y-%m-%d %H:%M") == f"{day} {slot_time}"

        # a refusal shows the API's sentence: #4 (unlocked now that #3 moved) has not started
        console.expected.add("/api/sessions/complete")
        await row(page, 4).get_by_role("button", name="Complete").click()
        await page.locator("#complete-dialog").get_by_role("button", name="Complete").click()
        await expect(page.locator("#complete-dialog .form-error")).to_contain_text("Session 4")
        await page.keyboard.press("Escape")

        # request cancellation of #4 → "awaiting parent" → withdraw
        await row(page, 4).get_by_role("button", name="Cancel").click()
        cancel = page.locator("#cancel-dialog")
        await cancel.get_by_label("Reason (required)").fill("Family trip")
        await cancel.get_by_role("button", name="Request cancellation").click()
        await expect(row(page, 4).locator("[data-awaiting]")).to_contain_text("awaiting parent")
        await expect(row(page, 4).locator(".btn-cancel")).to_have_attribute("aria-disabled", "true")
        await row(page, 4).get_by_role("button", name="Withdraw").click()
        await expect(row(page, 4).locator("[data-awaiting]")).to_have_count(0)

        # Prep: the brief, or (before the brief's route exists) a plain "not available yet"
        console.expected.add("/api/coach/session-prep")
        await row(page, 4).get_by_role("button", name="Prep").click()
        prep = page.locator("#prep-dialog")
        await expect(prep.locator("[data-prep-unavailable], [data-brief], .form-error")).to_be_visible()
        await prep.get_by_role("button", name="Close").click()

        # Join only with a Meet link; the profile button leads to the dashboard
        await expect(row(page, 4).get_by_role("link", name="Join")).to_have_count(
            1 if await pool.fetchval("SELECT meet_link FROM scheduled_sessions WHERE id = $1", ids[3]) else 0
        )
        assert await page.evaluate("() => window.__noReload === true")  # no full reload happened
        _clean(console)

    rows = await pool.fetch("SELECT kind, score FROM assessments WHERE child_id = $1", family.child.id)
    assert [(r["kind"], float(r["score"])) for r in rows] == [("reading", 64.0)]
    assert await pool.fetchval("SELECT title FROM homework_assignments WHERE child_id = $1", family.child.id)
