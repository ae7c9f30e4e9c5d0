"""The progress page's homework list and its three forms (issue 20) in headless Chromium against the app
over real HTTP, real Postgres, the Temporal test server and worker: add homework, see it, mark it done;
add an observation; add a score; and the API's own 422 shown next to its field. Every answer the page
sees is the API's; each check reads the database or the API, at 1280 and 390 px, axe-core clean."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from tests.factories import Family, make_family
from tests.helpers import Stack, auth
from tests.pages_support import (
    Console,
    base_url,
    browser,
    goto_signed_in,
    open_page,
    serious_axe_violations,
    sign_in_link,
    too_wide,
)

UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
WIDTHS = pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)], ids=["desktop", "phone"])

__all__ = ["base_url", "browser"]  # fixtures (tests/pages_support.py)


def _coach_today(family: Family) -> str:
    return datetime.now(ZoneInfo(family.coach.timezone)).date().isoformat()


def _days_from_today(family: Family, n: int) -> str:
    return (datetime.now(ZoneInfo(family.coach.timezone)).date() + timedelta(days=n)).isoformat()


async def _open(page: Page, base_url: str, family: Family) -> None:
    await goto_signed_in(
        page, sign_in_link(base_url, family.coach.id, path=f"/coach/children/{family.child.id}/progress")
    )
    await expect(page.locator("#child-name")).to_have_text(f"{family.child.name}: progress")


async def _clean(page: Page, console: Console) -> None:
    assert await serious_axe_violations(page) == []
    assert await too_wide(page) == []
    assert console.unexpected() == [], console.unexpected()


@WIDTHS
async def test_add_homework_then_mark_it_done(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser, width: int, height: int
) -> None:
    family = await make_family(pool)
    due = _days_from_today(family, 3)
    async with open_page(browser, width=width, height=height) as (page, console):
        await _open(page, base_url, family)
        await expect(page.locator("#homework-empty")).to_have_text("No homework yet — add some below.")
        await page.get_by_label("Title").fill("Read chapter 2 aloud")
        await page.get_by_label("Due date (optional)").fill(due)
        await page.get_by_role("button", name="Add homework").click()
        item = page.locator("#homework-list li", has_text="Read chapter 2 aloud")
        await expect(item).to_be_visible()
        await expect(item.locator(".badge")).to_have_text("open")
        await expect(page.locator("#homework-empty")).to_be_hidden()
        await expect(page.locator("#homework-counts")).to_contain_text("0 of 1 done")
        row = await pool.fetchrow("SELECT * FROM homework_assignments WHERE child_id = $1", family.child.id)
        assert row["title"] == "Read chapter 2 aloud" and row["due_date"].isoformat() == due
        assert row["completed_at"] is None
        await _clean(page, console)

        await item.get_by_role("button", name="Mark done: Read chapter 2 aloud").click()
        await expect(item.locator(".badge")).to_have_text("done")
        await expect(item.get_by_role("button")).to_have_count(0)
        await expect(page.locator("#homework-counts")).to_contain_text("1 of 1 done")
        api = (await stack.http.get(f"/api/children/{family.child.id}/progress", headers=auth(family.coach.id))).json()
        [done] = api["homework"]["items"]
        assert done["title"] == "Read chapter 2 aloud" and done["completed_at"] is not None
        assert api["homework"]["done"] == 1
        await _clean(page, console)


async def test_overdue_homework_reads_overdue(pool: asyncpg.Pool, base_url: str, browser: Browser) -> None:
    family = await make_family(pool)
    await pool.execute(
        "INSERT INTO homework_assignments (child_id, title, due_date, assigned_at) VALUES ($1, $2, $3, now())",
        family.child.id,
        "Spelling list",
        datetime.fromisoformat(_days_from_today(family, -2)).date(),
    )
    async with open_page(browser) as (page, console):
        await _open(page, base_url, family)
        item = page.locator("#homework-list li", has_text="Spelling list")
        await expect(item.locator(".badge")).to_have_text("overdue")
        await expect(item.get_by_role("button", name="Mark done: Spelling list")).to_be_visible()
        await _clean(page, console)


@WIDTHS
async def test_add_an_observation(pool: asyncpg.Pool, base_url: str, browser: Browser, width: int, height: int) -> None:
    family = await make_family(pool)
    text = "Sounded out 'shipwreck' unprompted; still guesses at -tion endings."
    async with open_page(browser, width=width, height=height) as (page, console):
        await _open(page, base_url, family)
        await expect(page.locator("#events-empty")).to_contain_text("add an observation below")
        await page.get_by_label("Kind of observation").select_option("quiz")
        await page.get_by_label("What you observed").fill(text)
        await page.get_by_role("button", name="Add observation").click()
        await expect(page.locator("#events li", has_text=text)).to_be_visible()
        rows = await pool.fetch(
            "SELECT event_type, content_for_embedding, coach_id FROM learning_events WHERE child_id = $1",
            family.child.id,
        )
        assert [(r["event_type"], r["content_for_embedding"], r["coach_id"]) for r in rows] == [
            ("quiz", text, family.coach.id)
        ]
        await expect(page.get_by_label("What you observed")).to_have_value("")
        await _clean(page, console)


@WIDTHS
async def test_add_a_score(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser, width: int, height: int
) -> None:
    family = await make_family(pool)
    async with open_page(browser, width=width, height=height) as (page, console):
        await _open(page, base_url, family)
        await expect(page.locator("#scores-empty")).to_have_text("No scores yet — add one below.")
        await page.get_by_label("Score (0\u2013100)").fill("73.5")
        await page.get_by_role("button", name="Add score").click()
        await expect(page.locator("#scores-empty")).to_be_hidden()
        await page.locator("#scores-table-box summary").click()
        await expect(page.locator("#scores-table tbody tr")).to_have_count(1)
        await expect(page.locator("#scores-table tbody tr td").last).to_have_text("73.5")
        api = (await stack.http.get(f"/api/children/{family.child.id}/progress", headers=auth(family.coach.id))).json()
        assert [(s["kind"], [p["score"] for p in s["points"]]) for s in api["assessments"]] == [("reading", [73.5])]
        chart = await page.evaluate("() => Chart.getChart('score-chart').data.datasets.map(d => d.data.map(p => p.y))")
        assert chart == [[73.5]]
        await _clean(page, console)


async def test_client_checks_match_the_api_and_send_nothing(
    pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    family = await make_family(pool)
    async with open_page(browser, width=390, height=844) as (page, console):
        await _open(page, base_url, family)
        posted: list[str] = []
        page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
        await page.get_by_label("Score (0\u2013100)").fill("101")
        await page.get_by_role("button", name="Add score").click()
        await expect(page.locator("#score-value-error")).to_have_text("At most 100.")
        await expect(page.get_by_label("Score (0\u2013100)")).to_have_attribute("aria-invalid", "true")
        await page.get_by_role("button", name="Add homework").click()
        await expect(page.locator("#homework-title-error")).to_have_text("Required.")
        await page.get_by_label("Title").fill("Read")
        await page.get_by_label("Due date (optional)").fill(_days_from_today(family, -1))
        await page.get_by_role("button", name="Add homework").click()
        await expect(page.locator("#homework-due-error")).to_contain_text("From today")
        await page.get_by_role("button", name="Add observation").click()
        await expect(page.locator("#observation-content-error")).to_have_text("Required.")
        assert posted == []
        assert await pool.fetchval("SELECT count(*) FROM learning_events WHERE child_id = $1", family.child.id) == 0
        await _clean(page, console)


@WIDTHS
async def test_the_apis_422_shows_next_to_its_field(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser, width: int, height: int
) -> None:
    family = await make_family(pool)
    headers = auth(family.coach.id)
    score = await stack.http.post(
        "/api/assessments", json={"childId": str(family.child.id), "score": 101}, headers=headers
    )
    assert score.status_code == 422
    [field] = score.json()["fields"]
    assert field["field"] == "score"
    yesterday = _days_from_today(family, -1)
    due = await stack.http.post(
        "/api/homework", json={"childId": str(family.child.id), "title": "Read", "dueDate": yesterday}, headers=headers
    )
    assert due.status_code == 422
    due_detail = due.json()["detail"]
    assert due_detail.startswith("dueDate: ")
    async with open_page(browser, width=width, height=height) as (page, console):
        console.expected |= {"/api/assessments", "/api/homework"}
        await _open(page, base_url, family)
        # past the client's check (its bounds are the inputs' own min and max): the API refuses
        await page.evaluate("() => { document.getElementById('score-value').removeAttribute('max'); }")
        await page.get_by_label("Score (0\u2013100)").fill("101")
        await page.get_by_role("button", name="Add score").click()
        await expect(page.locator("#score-value-error")).to_have_text(field["message"])
        await expect(page.get_by_label("Score (0\u2013100)")).to_be_focused()

        await page.evaluate("() => { document.getElementById('homework-due').removeAttribute('min'); }")
        await page.get_by_label("Title").fill("Read")
        await page.get_by_label("Due date (optional)").fill(yesterday)
        await page.get_by_role("button", name="Add homework").click()
        await expect(page.locator("#homework-due-error")).to_have_text(due_detail.removeprefix("dueDate: "))
        assert await pool.fetchval("SELECT count(*) FROM assessments WHERE child_id = $1", family.child.id) == 0
        assert (
            await pool.fetchval("SELECT count(*) FROM homework_assignments WHERE child_id = $1", family.child.id) == 0
        )
        await _clean(page, console)


async def test_each_form_sends_an_idempotency_key_and_a_double_click_adds_once(
    pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    family = await make_family(pool)
    async with open_page(browser) as (page, console):
        await _open(page, base_url, family)
        keys: list[tuple[str, str | None]] = []
        page.on(
            "request",
            lambda r: (
                keys.append((r.url.split("/api/")[1], r.headers.get("idempotency-key"))) if r.method == "POST" else None
            ),
        )
        await page.get_by_label("Score (0\u2013100)").fill("60")
        await page.get_by_role("button", name="Add score").dblclick()
        await expect(page.locator("#scores-empty")).to_be_hidden()
        await page.get_by_label("Score (0\u2013100)").fill("64")
        await page.get_by_role("button", name="Add score").click()
        await expect(page.locator("#toast")).to_have_text("Score 64 added.")
        assert await pool.fetchval("SELECT count(*) FROM assessments WHERE child_id = $1", family.child.id) == 2
        assert [path for path, _ in keys] == ["assessments", "assessments"]
        assert all(key and UUID_TEXT.match(key) for _, key in keys), keys
        assert keys[0][1] != keys[1][1]  # a new key after the API's answer
        await _clean(page, console)
