"""Screenshots of the coach pages for docs/api.md (docs/*.png), of the demo that `make run` seeds.

The same ``seed_demo`` as `python -m devtools seed-demo`, on the test stack (its own database),
with the settings a new user has (a 24 h minimum notice, a 48 h consent window); the pages as Asha
Menon, the first demo coach, sees them. So what the docs show is what a new user sees.

Skipped unless UPDATE_SCREENSHOTS=1: `UPDATE_SCREENSHOTS=1 .venv/bin/pytest -q tests/test_screenshots.py`.
"""

import os
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from api.app import create_app
from api.services import Services
from devtools.demo import seed_demo
from devtools.demo_data import DEMO_COACH_EMAILS, FAMILIES
from tests import helpers
from tests.demo_support import demo_stack, own_pool
from tests.helpers import Stack, eventually, real_server
from tests.pages_support import chromium, goto_signed_in, open_page, sign_in_link

pytestmark = pytest.mark.skipif(not os.environ.get("UPDATE_SCREENSHOTS"), reason="set UPDATE_SCREENSHOTS=1")
__all__ = ["demo_stack", "own_pool"]  # fixtures
DOCS = Path(__file__).resolve().parent.parent / "docs"
AARAV = FAMILIES[0]


async def test_screenshots(demo_stack: Stack, own_pool: asyncpg.Pool) -> None:
    pool, client = own_pool, demo_stack.env.client
    settings = helpers.test_settings(demo_stack.task_queue, coach_min_notice=timedelta(hours=24))
    await seed_demo(pool, client, demo_stack.task_queue, settings=settings)

    async def settled() -> bool:  # every enrollment's sessions started, every calendar event written
        unsynced = await pool.fetchval("SELECT count(*) FROM scheduled_sessions WHERE calendar_sync_status <> 'synced'")
        started = await pool.fetchval("SELECT count(*) FROM scheduled_sessions WHERE meet_link IS NOT NULL")
        return bool(unsynced == 0 and started == sum(f.sessions for f in FAMILIES))

    await eventually(settled, within=60, interval=0.2)
    coach_id = await pool.fetchval("SELECT id FROM coaches WHERE email = $1", DEMO_COACH_EMAILS[0])
    child_id = await pool.fetchval("SELECT id FROM children WHERE name = $1", AARAV.child)
    row = f"#child-{child_id} li.session[data-session-number='{{}}']"

    # The API as `make run` serves it: the user's settings, the free slots read from the (fake) Google Calendar.
    app = create_app(settings, services=Services.build(pool, client, settings, calendar=demo_stack.google))
    DOCS.mkdir(exist_ok=True)
    async with real_server(app) as base_url, chromium() as browser:
        for name, width, height in (("desktop", 1280, 1100), ("phone", 390, 1500)):
            async with open_page(browser, width=width, height=height) as (page, console):
                # The landing page: the agenda (Needs you, Today, This week), then the Complete dialog
                # with its private notes, the parent's message and the WhatsApp preview.
                await goto_signed_in(page, sign_in_link(base_url, coach_id, path="/coach/agenda"))
                await page.locator("#needs-you [data-list] li").first.wait_for()
                await page.screenshot(path=str(DOCS / f"coach-agenda-{name}.png"), full_page=name == "desktop")
                if name == "desktop":
                    complete = page.locator("#needs-you button[data-action='complete']:not([aria-disabled])").first
                    await complete.click()
                    dialog = page.locator("#complete-dialog")
                    await dialog.get_by_label("Private notes (never sent)").fill(
                        "Rushes the long words; lost focus at the end."
                    )
                    await dialog.get_by_label("Message to the parent").fill("Read two pages aloud today. Well done!")
                    await dialog.locator("[data-preview-text]").wait_for()
                    await page.wait_for_timeout(500)
                    await page.screenshot(path=str(DOCS / "coach-complete-preview.png"))
                    await page.keyboard.press("Escape")
                await goto_signed_in(page, sign_in_link(base_url, coach_id))
                await page.locator(row.format(AARAV.sessions)).wait_for()
                if name == "phone":  # from the last completed session: pending, next, awaiting the parent, ...
                    await page.locator(row.format(AARAV.past - 1)).evaluate("e => e.scrollIntoView({block: 'start'})")
                await page.screenshot(path=str(DOCS / f"coach-sessions-{name}.png"), full_page=name == "desktop")
                if name == "phone":  # the reschedule modal with the free slots of the chosen day
                    await page.locator(row.format(AARAV.past + 3) + " .btn-reschedule").click()
                    await page.locator("#reschedule-dialog input[name=slot]").first.wait_for()
                    await page.set_viewport_size({"width": 390, "height": 844})
                    await page.screenshot(path=str(DOCS / "coach-reschedule-phone.png"))
                    await page.keyboard.press("Escape")
                await page.goto(f"{base_url}/coach/children/{child_id}/progress")
                await page.locator("#events li").first.wait_for()
                await page.wait_for_timeout(300)
                await page.screenshot(path=str(DOCS / f"coach-progress-{name}.png"), full_page=True)
                assert console.unexpected() == []
