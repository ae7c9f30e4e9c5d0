"""Screenshots of the coach pages for the README (docs/*.png), from realistic data on the test stack.

Skipped unless UPDATE_SCREENSHOTS=1: `UPDATE_SCREENSHOTS=1 .venv/bin/pytest -q tests/test_screenshots.py`
(alone, so the database holds only this data).
"""

import os
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from coach_sessions.repositories.people import PeopleRepository
from devtools.demo_data import DEMO_COACH_EMAILS
from tests.factories import Family, make_sessions, now_utc
from tests.helpers import Stack, auth
from tests.pages_support import chromium, live_app, open_page, sign_in_link

pytestmark = pytest.mark.skipif(not os.environ.get("UPDATE_SCREENSHOTS"), reason="set UPDATE_SCREENSHOTS=1")
DOCS = Path(__file__).resolve().parent.parent / "docs"


async def _people(pool: asyncpg.Pool) -> tuple[Family, Family]:
    people = PeopleRepository(pool)
    coach = await people.create_coach(
        name="Asha Menon", email=DEMO_COACH_EMAILS[0], phone="+919811111111", calendar_id=None, timezone="Asia/Kolkata"
    )
    families = []
    for parent, phone, child, age in (
        ("Meera Iyer", "+919800000001", "Aarav Iyer", 7),
        ("Farah Khan", "+919800000002", "Zoya Khan", 9),
    ):
        p = await people.create_parent(name=parent, phone=phone, email=None)
        c = await people.create_child(name=child, age=age, parent_id=p.id, coach_id=coach.id)
        families.append(Family(coach=coach, parent=p, child=c))
    return families[0], families[1]


async def test_screenshots(stack: Stack, pool: asyncpg.Pool) -> None:
    aarav, zoya = await _people(pool)
    now = now_utc().replace(minute=0, second=0, microsecond=0)
    day = timedelta(days=1)
    starts = [now - day * d for d in (24, 21, 17, 14, 10, 3)] + [now + day * d for d in (2, 4, 7, 9)]
    starts = [s.replace(hour=11, minute=30) for s in starts]  # 17:00 in Kolkata
    statuses = ["completed", "completed", "missed", "completed", "completed", "pending"] + ["scheduled"] * 4
    ids = await make_sessions(pool, aarav, starts, statuses=statuses)
    for number, session_id in enumerate(ids, start=1):
        link = f"https://meet.google.com/abc-defg-{number:03d}"
        await pool.execute(
            "UPDATE scheduled_sessions SET calendar_sync_status = 'synced', meet_link = $2 WHERE id = $1",
            session_id,
            link,
        )
    await pool.execute(
        "UPDATE scheduled_sessions SET calendar_sync_status = 'failed', meet_link = NULL,"
        " calendar_sync_error = 'Google Calendar answered 403: Forbidden' WHERE id = $1",
        ids[9],
    )
    # Zoya's first session falls on the day of Aarav's #9 (18:30 there), so that day's slots show it busy.
    zoya_ids = await make_sessions(pool, zoya, [s.replace(hour=13) for s in (now + day * 7, now + day * 14)])
    await pool.execute("UPDATE scheduled_sessions SET calendar_sync_status = 'pending' WHERE id = ANY($1)", zoya_ids)
    r = await stack.http.post(
        "/api/sessions/request-cancel",
        json={"sessionId": str(ids[7]), "reason": "Family wedding"},
        headers=auth(aarav.coach.id),
    )
    assert r.status_code == 202, r.text

    DOCS.mkdir(exist_ok=True)
    async with live_app(stack, pool) as base_url, chromium() as browser:
        for name, width, height in (("desktop", 1280, 1100), ("phone", 390, 1500)):
            async with open_page(browser, width=width, height=height) as (page, console):
                await page.goto(sign_in_link(base_url, aarav.coach.id))
                await page.locator("li.session[data-session-number='10']").wait_for()
                await page.screenshot(path=str(DOCS / f"coach-sessions-{name}.png"), full_page=name == "desktop")
                if name == "phone":  # the reschedule modal with the free slots of the chosen day
                    await page.locator("li.session[data-session-number='9'] .btn-reschedule").click()
                    await page.locator("#reschedule-dialog input[name=slot]").first.wait_for()
                    await page.set_viewport_size({"width": 390, "height": 844})
                    await page.screenshot(path=str(DOCS / "coach-reschedule-phone.png"))
                    await page.keyboard.press("Escape")
                await page.goto(f"{base_url}/coach/children/{aarav.child.id}/progress")
                await page.locator("#events li").first.wait_for()
                await page.wait_for_timeout(300)
                await page.screenshot(path=str(DOCS / f"coach-progress-{name}.png"), full_page=True)
                assert console.unexpected() == []
