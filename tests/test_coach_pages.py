"""The coach pages in headless Chromium against the app over real HTTP, real Postgres, the Temporal test
server and worker: sign-in link, the seven buttons' flows, the dashboard's chart, /docs, axe-core."""

import http.server
import threading
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from coach_sessions.statuses import Role
from tests import pages_support
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import Stack, auth
from tests.pages_support import (
    Console,
    base_url,
    browser,
    goto_signed_in,
    open_page,
    row,
    serious_axe_violations,
    sign_in_link,
    too_wide,
    unresolved_family,
)

__all__ = ["base_url", "browser"]  # fixtures (tests/pages_support.py)


def _clean(console: Console) -> None:
    assert console.unexpected() == [], console.unexpected()


async def test_sessions_page_flows(stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser) -> None:
    family, ids = await unresolved_family(pool)
    async with open_page(browser) as (page, console):
        await goto_signed_in(page, sign_in_link(base_url, family.coach.id))
        await expect(row(page, 4)).to_be_visible()
        # the token was traded for a session cookie no script can read, and left the address bar
        assert "#" not in page.url and "token" not in page.url
        stored = await page.evaluate("() => [sessionStorage.length, localStorage.length, document.cookie]")
        assert stored == [0, 0, ""], stored
        (cookie,) = [c for c in await page.context.cookies() if c["name"].endswith("coach_session")]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["secure"], cookie
        await page.evaluate("() => { window.__noReload = true; }")

        # #2 is locked by #1: a lock icon (SVG: no emoji font needed) with the blocking session named
        locked = row(page, 2).get_by_role("button", name="Complete")
        await expect(locked).to_have_attribute("aria-disabled", "true")
        await expect(locked.locator("svg.icon[aria-hidden='true']")).to_have_count(1)
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

        # #4 (unlocked now that #3 moved) has not started: its Complete is greyed with the API's sentence
        complete4 = row(page, 4).get_by_role("button", name="Complete")
        await expect(complete4).to_have_attribute("aria-disabled", "true")
        await expect(complete4).to_have_attribute("title", "Session 4 has not started yet.")
        await complete4.focus()  # still focusable: a keyboard user gets the reason too
        await page.keyboard.press("Enter")
        await expect(page.locator("#toast")).to_have_text("Session 4 has not started yet.")
        await expect(page.locator("#complete-dialog")).to_be_hidden()

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
        # Its close control at the top (a long brief scrolls; phones have no Escape), as on every dialog
        assert await page.locator("dialog").count() == await page.locator("dialog > .dialog-top [data-close]").count()
        await prep.get_by_role("button", name="Close this dialog").click()
        await expect(prep).to_be_hidden()

        # Join only with a Meet link; the profile button leads to the dashboard
        await expect(row(page, 4).get_by_role("link", name="Join")).to_have_count(
            1 if await pool.fetchval("SELECT meet_link FROM scheduled_sessions WHERE id = $1", ids[3]) else 0
        )
        assert await page.evaluate("() => window.__noReload === true")  # no full reload happened
        _clean(console)

    rows = await pool.fetch("SELECT kind, score FROM assessments WHERE child_id = $1", family.child.id)
    assert [(r["kind"], float(r["score"])) for r in rows] == [("reading", 64.0)]
    assert await pool.fetchval("SELECT title FROM homework_assignments WHERE child_id = $1", family.child.id)


async def _assess(stack: Stack, family: Family, scores: list[float]) -> None:
    start = now_utc() - timedelta(weeks=len(scores))
    for week, score in enumerate(scores):
        r = await stack.http.post(
            "/api/assessments",
            json={
                "childId": str(family.child.id),
                "score": score,
                "assessedAt": (start + timedelta(weeks=week)).isoformat(),
            },
            headers=auth(family.coach.id),
        )
        assert r.status_code == 201, r.text


async def test_dashboard_chart_matches_the_api(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    family, _ = await unresolved_family(pool)
    await _assess(stack, family, [42, 48.5, 55, 61])
    r = await stack.http.post(
        "/api/homework", json={"childId": str(family.child.id), "title": "Read aloud"}, headers=auth(family.coach.id)
    )
    assert r.status_code == 201
    api = (await stack.http.get(f"/api/children/{family.child.id}/progress", headers=auth(family.coach.id))).json()
    async with open_page(browser) as (page, console):
        # from the sessions page, through the gray profile button
        await goto_signed_in(page, sign_in_link(base_url, family.coach.id))
        await row(page, 1).get_by_role("link", name=f"Progress of {family.child.name}").click()
        await expect(page.locator("#child-name")).to_have_text(f"{family.child.name}: progress")
        points = await page.evaluate(
            "() => Chart.getChart('score-chart').data.datasets.map(d => ({label: d.label, data: d.data}))"
        )
        expected = [
            {
                "label": s["kind"],
                "data": [
                    {"x": int(datetime.fromisoformat(p["assessed_at"]).timestamp() * 1000), "y": p["score"]}
                    for p in s["points"]
                ],
            }
            for s in api["assessments"]
        ]
        assert points == expected
        assert [p["y"] for p in points[0]["data"]] == [42, 48.5, 55, 61]
        await expect(page.locator("#homework-rate")).to_have_text("0%")
        await expect(page.locator("#homework-counts")).to_contain_text("0 of 1 done")
        await expect(page.locator("#session-rate")).to_have_text("\u2013")  # nothing resolved yet
        await expect(page.locator("#events li")).to_have_count(len(api["recent_events"]))
        assert await serious_axe_violations(page) == []
        await page.set_viewport_size({"width": 390, "height": 844})
        assert await too_wide(page) == []
        _clean(console)


async def test_dashboard_empty_state(pool: asyncpg.Pool, base_url: str, browser: Browser) -> None:
    family = await make_family(pool)
    async with open_page(browser, width=390, height=844) as (page, console):
        await goto_signed_in(
            page, sign_in_link(base_url, family.coach.id, path=f"/coach/children/{family.child.id}/progress")
        )
        await expect(page.locator("#scores-empty")).to_have_text("No scores yet — add one below.")
        await expect(page.locator("#events-empty")).to_be_visible()
        assert await too_wide(page) == []
        _clean(console)


async def test_accessibility_and_phone_width(pool: asyncpg.Pool, base_url: str, browser: Browser) -> None:
    family, _ = await unresolved_family(pool)
    for width, height in ((1280, 900), (390, 844)):
        async with open_page(browser, width=width, height=height) as (page, console):
            await goto_signed_in(page, sign_in_link(base_url, family.coach.id))
            await expect(row(page, 4)).to_be_visible()
            assert await serious_axe_violations(page) == [], width
            assert await too_wide(page) == [], width
            # the modals too: open one and check it
            await row(page, 3).get_by_role("button", name="Reschedule").click()
            await expect(page.locator("#reschedule-dialog input[name=slot]").first).to_be_visible()
            assert await serious_axe_violations(page) == [], width
            _clean(console)


async def test_admin_link_and_coach_filter(pool: asyncpg.Pool, base_url: str, browser: Browser) -> None:
    first, _ = await unresolved_family(pool)
    second = await make_family(pool)
    await make_sessions(pool, second, [now_utc() + hours(30)])
    admin = UUID("00000000-0000-4000-8000-0000000000a1")
    async with open_page(browser) as (page, console):
        await goto_signed_in(page, sign_in_link(base_url, admin, Role.ADMIN))
        await expect(page.locator("#who")).to_have_text("Signed in as Test Admin (admin)")
        await expect(page.get_by_role("heading", name=first.child.name)).to_be_visible()
        await expect(page.get_by_role("heading", name=second.child.name)).to_be_visible()
        await page.get_by_label("Coach").select_option(str(second.coach.id))
        await expect(page.get_by_role("heading", name=first.child.name)).to_have_count(0)
        await expect(page.get_by_role("heading", name=second.child.name)).to_be_visible()
        # an admin cancels directly (no parent consent), with a required reason
        await row(page, 1).get_by_role("button", name="Cancel").click()
        cancel = page.locator("#cancel-dialog")
        await cancel.get_by_role("button", name="Cancel session").click()  # empty reason: the form refuses
        await expect(cancel).to_be_visible()
        await cancel.get_by_label("Reason (required)").fill("Coach unavailable")
        await cancel.get_by_role("button", name="Cancel session").click()
        await expect(row(page, 1).locator(".badge")).to_have_text("cancelled")
        _clean(console)


async def test_a_page_without_a_session_asks_to_sign_in_and_a_bad_link_says_so(
    pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    family, _ = await unresolved_family(pool)
    async with open_page(browser) as (page, console):
        await page.goto(f"{base_url}/coach/sessions")  # no session: off to the sign-in page, and back after
        await expect(page).to_have_url(f"{base_url}/coach/sign-in?next=/coach/sessions")
        await goto_signed_in(page, sign_in_link(base_url, family.coach.id))
        await expect(row(page, 4)).to_be_visible()
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.locator("#sign-in-reason")).to_have_text("You signed out.")
        await page.goto(f"{base_url}/coach/sessions")  # signed out on the server: the page asks again
        await expect(page).to_have_url(f"{base_url}/coach/sign-in?next=/coach/sessions")

        console.expected.add("/auth/token")  # the forged token's 401
        forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImNvYWNoIn0.x"
        await page.goto(f"{base_url}/coach/sessions#token={forged}")
        await expect(page.locator("#sign-in-reason")).to_contain_text("not valid")
        _clean(console)


async def test_docs_are_served_from_our_own_files(base_url: str, browser: Browser) -> None:
    async with open_page(browser) as (page, console):
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        await page.goto(f"{base_url}/docs")
        await expect(page.locator(".opblock").first).to_be_visible()
        assert await page.locator(".opblock").count() >= 20
        await expect(page.locator(".opblock-summary-path", has_text="/api/sessions/available-slots")).to_be_visible()
        await expect(
            page.locator(".opblock-summary-path", has_text="/api/children/{child_id}/progress")
        ).to_be_visible()
        assert all(url.startswith(base_url) for url in requested), [u for u in requested if not u.startswith(base_url)]
        _clean(console)


def test_missing_chromium_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages_support.shutil, "which", lambda _: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        pages_support.chromium_or_skip()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        pages_support.chromium_or_skip()


async def test_prep_renders_the_real_brief_with_its_cited_sources(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    """The brief the API really answers (generated by the worker from the child's record), as the page
    shows it: the focus as text (it is an object {text, event_ids}), every item with its citations."""
    family, ids = await unresolved_family(pool)
    me = auth(family.coach.id)
    for content in (
        "Session 1: struggled with the blends 'st' and 'bl'; loves dinosaur stories.",
        "Phonics check: 6/10 on consonant blends, still rushing the endings.",
    ):
        added = await stack.http.post(
            "/api/learning-events",
            headers=me,
            json={"childId": str(family.child.id), "eventType": "session", "eventData": {}, "content": content},
        )
        assert added.status_code == 201, added.text
    answer = await stack.http.get(f"/api/coach/session-prep?sessionId={ids[2]}", headers=me)
    assert answer.status_code == 200, answer.text
    brief = answer.json()
    assert brief["session_focus"]["text"] and brief["sources"]
    async with open_page(browser) as (page, console):
        await goto_signed_in(page, sign_in_link(base_url, family.coach.id))
        await row(page, 3).get_by_role("button", name="Prep").click()
        panel = page.locator("#prep-dialog [data-brief]")
        await expect(panel.locator("[data-focus]")).to_contain_text(brief["session_focus"]["text"])
        await expect(panel).not_to_contain_text("[object Object]")
        first_source = brief["sources"][0]
        await expect(panel.locator(f"#source-{first_source['id']}")).to_contain_text(first_source["text"][:40])
        await expect(page.locator("#prep-title")).to_contain_text("session 3")
        _clean(console)


@pytest.mark.parametrize(
    ("host", "answer"),
    [("127.0.0.1", "csrf_failed"), ("localhost", "unauthorized")],
    ids=["another origin of the same site", "another site"],
)
async def test_a_form_posted_from_another_origin_changes_nothing(
    pool: asyncpg.Pool, base_url: str, browser: Browser, host: str, answer: str
) -> None:
    """The signed-in coach opens another origin's page whose form posts to the API. Another site: the
    browser does not send the SameSite=Lax cookie (401). Another port of the same host is the same site,
    so the cookie goes along, and the missing CSRF token stops it (403)."""
    family, ids = await unresolved_family(pool)
    form = (
        f'<!doctype html><html lang="en"><title>elsewhere</title><form method="post" '
        f'action="{base_url}/api/sessions/complete"><input name="sessionId" value="{ids[0]}">'
        '<button type="submit">Win a prize</button></form></html>'
    ).encode()

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(form)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Elsewhere)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        async with open_page(browser) as (page, _console):
            await goto_signed_in(page, sign_in_link(base_url, family.coach.id))
            await expect(row(page, 1)).to_be_visible()
            await page.goto(f"http://{host}:{server.server_port}/")
            await page.get_by_role("button", name="Win a prize").click()
            await expect(page.locator("body")).to_contain_text(f'"error":"{answer}"')
    finally:
        server.shutdown()
    assert await pool.fetchval("SELECT status FROM scheduled_sessions WHERE id = $1", ids[0]) == "pending"
