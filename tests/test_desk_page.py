"""The programme desk page in Chromium (1280 and 390 px, axe-core): an admin approves and rejects pending
requests, resends an in-doubt message and sees the audit row, retries a failed calendar sync against the
fake Google Calendar; a coach gets 403. The page reads the API's real answers."""

from uuid import uuid4

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from coach_sessions.statuses import Role
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN_ID, Stack, auth, eventually
from tests.pages_support import (
    base_url,
    browser,
    goto_signed_in,
    open_page,
    serious_axe_violations,
    sign_in_link,
    too_wide,
)
from tests.test_ops_desk import _stuck_message
from tests.test_reassignment import enrolled_and_synced, live_on

__all__ = ["base_url", "browser"]  # fixtures


async def _pending_request(pool: asyncpg.Pool, session_id: object, expires_in: object) -> None:
    await pool.execute(
        "UPDATE scheduled_sessions SET cancellation_status = 'pending', cancellation_reason = 'Coach unwell',"
        " cancellation_requested_at = now(), cancellation_expires_at = now() + $2::interval,"
        " cancellation_request_count = 1 WHERE id = $1",
        session_id,
        expires_in,
    )


@pytest.mark.parametrize("width", [1280, 390])
async def test_the_desk_lists_what_needs_a_human_readably_and_accessibly(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser, width: int
) -> None:
    family = await make_family(pool)
    starts = [now_utc() - hours(3), now_utc() + hours(60)]
    [done, later] = await make_sessions(pool, family, starts, statuses=["completed", "scheduled"])
    message_id = await _stuck_message(pool, family, done)
    await _pending_request(pool, later, hours(20))
    async with open_page(browser, width=width) as (page, console):
        await goto_signed_in(page, sign_in_link(base_url, ADMIN_ID, Role.ADMIN, path="/coach/desk"))
        await expect(page.locator(f"#messages [data-message-id='{message_id}']")).to_be_visible()
        await expect(page.locator(f"#decisions [data-session-id='{later}']")).to_contain_text("no answer yet")
        coach_row = page.locator(f"#overview tr[data-coach-id='{family.coach.id}']")
        await expect(coach_row).to_contain_text(family.coach.name)
        assert await serious_axe_violations(page) == []
        assert await too_wide(page) == []
        assert console.unexpected() == [], console.unexpected()


async def test_approve_reject_resend_and_retry_from_the_desk(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    family, other, third = await make_family(pool), await make_family(pool), await make_family(pool)
    starts = [now_utc() - hours(3), now_utc() + hours(60)]
    [done, later] = await make_sessions(pool, family, starts, statuses=["completed", "scheduled"])
    [kept] = await make_sessions(pool, other, [now_utc() + hours(70)])
    [synced] = await make_sessions(pool, third, [now_utc() + hours(80)])
    # Real requests, through the API: the sessions' workflows hold them, as a coach's request leaves them.
    for session_id, coach_id in ((later, family.coach.id), (kept, other.coach.id)):
        body = {"sessionId": str(session_id), "reason": "Coach unwell"}
        answer = await stack.http.post("/api/sessions/request-cancel", headers=auth(coach_id), json=body)
        assert answer.status_code == 202, answer.text
    message_id = await _stuck_message(pool, family, done)
    await pool.execute(
        "UPDATE scheduled_sessions SET calendar_sync_status = 'failed', calendar_sync_error = 'HttpError 403'"
        " WHERE id = $1",
        synced,
    )
    sent_before = len(stack.aisensy.request_log)
    async with open_page(browser) as (page, console):
        await goto_signed_in(page, sign_in_link(base_url, ADMIN_ID, Role.ADMIN, path="/coach/desk"))
        await page.locator(f"#decisions [data-session-id='{later}']").get_by_role("button", name="Approve").click()
        await expect(page.locator(f"#decisions [data-session-id='{later}']")).to_have_count(0)
        await page.locator(f"#decisions [data-session-id='{kept}']").get_by_role("button", name="Reject").click()
        await expect(page.locator(f"#decisions [data-session-id='{kept}']")).to_have_count(0)
        statuses = {
            r["id"]: (r["status"], r["cancellation_status"])
            for r in await pool.fetch(
                "SELECT id, status, cancellation_status FROM scheduled_sessions WHERE id = ANY($1::uuid[])",
                [later, kept],
            )
        }
        assert statuses == {later: ("cancelled", "approved"), kept: ("scheduled", "rejected")}, statuses

        await page.locator(f"#messages [data-message-id='{message_id}']").get_by_role("button", name="Resend").click()
        await expect(page.locator(f"#messages [data-message-id='{message_id}']")).to_have_count(0)
        await expect(page.locator("#audit")).to_contain_text("Resend")
        await expect(page.locator("#audit")).to_contain_text("in_doubt → queued")

        async def sent() -> bool:
            return await pool.fetchval("SELECT status FROM outbound_messages WHERE id = $1", message_id) == "sent"

        await eventually(sent)
        assert len(stack.aisensy.request_log) > sent_before

        await (
            page.locator(f"#calendar-syncs [data-session-id='{synced}']")
            .get_by_role("button", name="Retry now")
            .click()
        )

        async def on_the_calendar() -> bool:
            return (
                await pool.fetchval("SELECT calendar_sync_status FROM scheduled_sessions WHERE id = $1", synced)
                == "synced"
            )

        await eventually(on_the_calendar)
        assert console.unexpected() == [], console.unexpected()


async def test_a_coach_gets_403_on_the_desk(stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser) -> None:
    family = await make_family(pool)
    async with open_page(browser, width=390) as (page, console):
        console.expected.add("/api/ops/")
        await goto_signed_in(page, sign_in_link(base_url, family.coach.id, path="/coach/agenda"))
        for path in ("/coach/desk/people", "/coach/desk"):
            answer = await page.goto(f"{base_url}{path}")
            assert answer is not None and answer.status == 403, path
        await expect(page.get_by_role("heading", name="Admins only")).to_be_visible()
        assert await page.locator("nav a[href='/coach/desk']").count() == 0
        assert await serious_axe_violations(page) == []


@pytest.mark.parametrize("width", [1280, 390])
async def test_add_a_parent_and_a_child_enrol_with_the_preview_and_see_the_agenda(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser, width: int
) -> None:
    coach = (await make_family(pool, timezone="UTC")).coach
    phone = "+9199" + str(now_utc().timestamp()).replace(".", "")[-8:]
    async with open_page(browser, width=width) as (page, console):
        await goto_signed_in(page, sign_in_link(base_url, ADMIN_ID, Role.ADMIN, path="/coach/desk/people"))
        await expect(page.locator("#child-coach option").nth(1)).to_be_attached()
        assert await serious_axe_violations(page) == []
        parent_form = page.locator("#add-parent")
        await parent_form.get_by_label("Name").fill("Kavita Desk")
        await parent_form.get_by_label("WhatsApp number").fill(phone)
        await parent_form.get_by_role("button", name="Add parent").click()
        await expect(page.locator("#toast")).to_contain_text("Added Kavita Desk")
        child_form = page.locator("#add-child")
        await child_form.get_by_label("Name").fill("Ishaan Desk")
        await child_form.get_by_label("Coach").select_option(str(coach.id))
        await child_form.get_by_role("button", name="Add child").click()
        await expect(page.locator("#toast")).to_contain_text("Added Ishaan Desk")
        child_id = await pool.fetchval(
            "SELECT c.id FROM children c JOIN parents p ON p.id = c.parent_id WHERE p.phone = $1", phone
        )
        assert child_id is not None  # the child form chose the parent just added

        enrol = page.locator("#enrol")
        await expect(enrol.get_by_label("Child", exact=True)).to_have_value(str(child_id))
        await enrol.get_by_label("Coach", exact=True).select_option(str(coach.id))
        await enrol.get_by_label("Sessions", exact=True).fill("3")
        for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
            await enrol.get_by_label(day, exact=True).check()
        await expect(page.get_by_role("button", name="Enrol", exact=True)).to_be_disabled()
        await page.get_by_role("button", name="Preview sessions").click()
        await expect(page.locator("#preview tbody tr")).to_have_count(3)
        assert await serious_axe_violations(page) == []
        assert await too_wide(page) == []
        await page.get_by_role("button", name="Enrol", exact=True).click()
        await expect(page.locator("#enrolled")).to_contain_text("3 sessions created")
        assert await pool.fetchval("SELECT count(*) FROM scheduled_sessions WHERE child_id = $1", child_id) == 3

        await page.get_by_role("link", name="Open the agenda").click()
        await page.get_by_label("Coach").select_option(str(coach.id))
        await expect(page.locator("#agenda")).to_contain_text("Ishaan Desk")
        assert console.unexpected() == [], console.unexpected()


async def test_move_a_child_to_another_coach_then_end_the_enrolment(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    family = await make_family(pool)
    new_coach = (await make_family(pool)).coach
    sessions = await enrolled_and_synced(stack, pool, family)
    to_come = [s["id"] for s in sessions if s["scheduled_at"] > now_utc()]
    async with open_page(browser, width=390) as (page, console):
        await goto_signed_in(page, sign_in_link(base_url, ADMIN_ID, Role.ADMIN, path="/coach/desk/people"))
        await page.locator("#change-child").select_option(str(family.child.id))
        await expect(page.locator("#change-enrolment")).to_contain_text(f"Active enrolment with {family.coach.name}")
        move = page.locator("#reassign")
        await move.get_by_label("New coach").select_option(str(new_coach.id))
        await move.get_by_role("button", name="Move child").click()
        await expect(page.locator("#toast")).to_contain_text(f"Moved: {len(to_come)} session(s)")
        await expect(page.locator("#change-enrolment")).to_contain_text(f"Active enrolment with {new_coach.name}")
        assert await serious_axe_violations(page) == []
        assert await too_wide(page) == []

        async def on_the_new_calendar() -> bool:
            ids = [
                await pool.fetchval("SELECT google_event_id FROM scheduled_sessions WHERE id = $1", s) for s in to_come
            ]
            return all(i and i in live_on(stack, new_coach.email) for i in ids)

        await eventually(on_the_new_calendar)
        old = await stack.http.get(f"/api/sessions/{to_come[0]}", headers=auth(family.coach.id))
        assert old.status_code == 404

        end = page.locator("#end-enrolment")
        await end.get_by_label("Why (not sent)").fill("The family is moving abroad")
        await end.get_by_role("button", name="End enrolment").click()
        await expect(page.locator("#toast")).to_contain_text(f"Enrolment ended: {len(to_come)} session(s) cancelled")
        await expect(page.locator("#change-enrolment")).to_have_text("No active enrolment.")
        rows = await pool.fetch("SELECT status FROM scheduled_sessions WHERE id = ANY($1::uuid[])", to_come)
        assert {r["status"] for r in rows} == {"cancelled"}
        assert console.unexpected() == [], console.unexpected()


async def test_add_a_coach_edit_a_parent_and_deactivate_from_the_page(
    stack: Stack, pool: asyncpg.Pool, base_url: str, browser: Browser
) -> None:
    family = await make_family(pool)
    email = f"coach-{uuid4().hex[:10]}@example.org"
    async with open_page(browser, width=390) as (page, console):
        console.expected.add("/api/coaches")  # the duplicate's 409, on purpose
        await goto_signed_in(page, sign_in_link(base_url, ADMIN_ID, Role.ADMIN, path="/coach/desk/people"))
        add = page.locator("#add-coach")
        await add.get_by_label("Name").fill("Rhea Desk")
        await add.get_by_label("Google account email").fill(email)
        await add.get_by_role("button", name="Add coach").click()
        await expect(page.locator("#toast")).to_contain_text("Added Rhea Desk")
        coach_id = await pool.fetchval("SELECT id FROM coaches WHERE email = $1", email)
        assert coach_id is not None
        await add.get_by_label("Name").fill("Rhea Again")
        await add.get_by_label("Google account email").fill(email.upper())
        await add.get_by_role("button", name="Add coach").click()
        await expect(add.locator(".form-error")).to_contain_text("already exists")

        edit = page.locator("#edit-person")
        await edit.get_by_label("Person").select_option(f"parents/{family.parent.id}")
        await expect(edit.get_by_label("Name")).to_have_value(family.parent.name)
        await edit.get_by_label("Name").fill("Sunita Renamed")
        await edit.get_by_role("button", name="Save").click()
        await expect(page.locator("#toast")).to_contain_text("Saved Sunita Renamed")
        assert await pool.fetchval("SELECT name FROM parents WHERE id = $1", family.parent.id) == "Sunita Renamed"

        await edit.get_by_label("Person").select_option(f"coaches/{coach_id}")
        await edit.get_by_role("button", name="Deactivate").click()
        await expect(page.locator("#toast")).to_contain_text("is deactivated")
        await expect(page.locator("#edit-state")).to_contain_text("no new enrolments")
        assert await pool.fetchval("SELECT deactivated_at FROM coaches WHERE id = $1", coach_id) is not None
        assert await page.locator(f"#enrol-coach option[value='{coach_id}']").count() == 0  # not offered any more
        assert await serious_axe_violations(page) == []
        assert console.unexpected() == [], console.unexpected()
