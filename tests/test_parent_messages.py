"""What reaches a parent: private notes never do, parentMessage does word for word, the preview shows
exactly what is then sent, and an old session's no-show notice is off unless asked for."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from coach_sessions.templates import (
    CANCELLATION_REQUEST,
    SESSION_NOSHOW,
    SESSION_NOSHOW_MESSAGE,
    SESSION_RESCHEDULED,
    SESSION_SUMMARY,
    TEMPLATES,
    MessageContext,
    format_when,
    placeholder_count,
    render_params,
    render_text,
)
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, Stack, auth, eventually

PRIVATE = "still rushes, lost focus twice"
FOR_PARENT = "Maya read two pages aloud today. Please read the next story with her."


async def _messages(pool: asyncpg.Pool, session_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM outbound_messages WHERE session_id = $1 ORDER BY created_at", session_id)
    return [dict(r) for r in rows]


async def _delivered(stack: Stack, pool: asyncpg.Pool, session_id: UUID, count: int = 1) -> list[dict[str, Any]]:
    """The session's outbox rows once all are sent, and what the fake AiSensy received for them."""

    async def sent() -> bool:
        rows = await _messages(pool, session_id)
        return len(rows) == count and all(r["status"] == "sent" for r in rows)

    await eventually(sent)
    rows = await _messages(pool, session_id)
    sent_rows = {(r["destination"], r["template_name"]) for r in rows}
    return [m for m in stack.aisensy.messages if (m["destination"], m["campaignName"]) in sent_rows]


def _nowhere(text: str, rows: list[dict[str, Any]], received: list[dict[str, Any]]) -> None:
    for row in rows:
        assert all(text not in p for p in row["template_params"]), row["template_params"]
    for body in received:
        assert all(text not in p for p in body["templateParams"]), body["templateParams"]
        assert text not in render_text(body["campaignName"], body["templateParams"])


async def _one_past(pool: asyncpg.Pool, ago: timedelta = hours(24)) -> tuple[Family, UUID]:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - ago], statuses=["pending"])
    return family, session_id


def test_every_template_body_has_one_placeholder_per_parameter() -> None:
    context = MessageContext("P", "C", "Co", 3, datetime(2026, 11, 2, 12, tzinfo=UTC), "Asia/Kolkata", reason="r")
    for name in TEMPLATES:
        params = render_params(name, context)
        assert placeholder_count(name) == len(params), name
        assert "{{" not in render_text(name, params), name


async def test_complete_with_notes_only_sends_the_parent_none_of_them(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id = await _one_past(pool)
    response = await stack.http.post(
        "/api/sessions/complete", headers=auth(family.coach.id), json={"sessionId": str(session_id), "notes": PRIVATE}
    )
    assert response.status_code == 200, response.text
    assert response.json()["session"]["coach_notes"] == PRIVATE  # the private record keeps them
    received = await _delivered(stack, pool, session_id)
    rows = await _messages(pool, session_id)
    _nowhere(PRIVATE, rows, received)
    [body] = received
    assert body["campaignName"] == SESSION_SUMMARY
    assert body["templateParams"][4] == "Session 1 is complete."  # the neutral default


async def test_complete_sends_parent_message_word_for_word(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id = await _one_past(pool)
    response = await stack.http.post(
        "/api/sessions/complete",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "notes": PRIVATE, "parentMessage": FOR_PARENT},
    )
    assert response.status_code == 200, response.text
    received = await _delivered(stack, pool, session_id)
    [row] = await _messages(pool, session_id)
    assert row["template_params"][4] == FOR_PARENT
    [body] = received
    assert body["templateParams"][4] == FOR_PARENT
    _nowhere(PRIVATE, [row], received)
    event = await pool.fetchrow("SELECT event_data FROM learning_events WHERE session_id = $1", session_id)
    assert (event["event_data"]["notes"], event["event_data"]["parent_message"]) == (PRIVATE, FOR_PARENT)


async def test_missed_keeps_notes_private_and_sends_parent_message(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id = await _one_past(pool)
    response = await stack.http.post(
        "/api/sessions/missed",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "notifyParent": True, "notes": PRIVATE, "parentMessage": FOR_PARENT},
    )
    assert response.status_code == 200, response.text
    received = await _delivered(stack, pool, session_id)
    _nowhere(PRIVATE, await _messages(pool, session_id), received)
    [body] = received
    assert body["campaignName"] == SESSION_NOSHOW_MESSAGE and body["templateParams"][4] == FOR_PARENT


async def test_missed_with_notes_only_sends_the_plain_notice(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id = await _one_past(pool)
    response = await stack.http.post(
        "/api/sessions/missed",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "notifyParent": True, "notes": PRIVATE},
    )
    assert response.status_code == 200, response.text
    received = await _delivered(stack, pool, session_id)
    _nowhere(PRIVATE, await _messages(pool, session_id), received)
    assert [b["campaignName"] for b in received] == [SESSION_NOSHOW]


async def test_a_message_for_a_parent_who_is_not_notified_is_not_sent(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id = await _one_past(pool)
    body = {"sessionId": str(session_id), "notifyParent": False, "parentMessage": FOR_PARENT}
    preview = await _preview(stack, auth(family.coach.id), action="missed", **body)
    assert (preview["notify_parent"], preview["template"]) == (False, None)
    response = await stack.http.post("/api/sessions/missed", headers=auth(family.coach.id), json=body)
    assert response.status_code == 200, response.text
    event = await pool.fetchrow("SELECT event_data FROM learning_events WHERE session_id = $1", session_id)
    assert event["event_data"]["parent_message"] is None
    assert await _messages(pool, session_id) == []


async def test_an_old_session_marked_missed_tells_the_parent_only_when_asked(stack: Stack, pool: asyncpg.Pool) -> None:
    family, old = await _one_past(pool, hours(24 * 21))
    response = await stack.http.post(
        "/api/sessions/missed", headers=auth(family.coach.id), json={"sessionId": str(old)}
    )
    assert response.status_code == 200, response.text
    event = await pool.fetchrow("SELECT event_data FROM learning_events WHERE session_id = $1", old)
    assert event["event_data"]["parent_notified"] is False
    assert await _messages(pool, old) == []


async def test_a_recent_session_marked_missed_tells_the_parent_by_default(stack: Stack, pool: asyncpg.Pool) -> None:
    family, recent = await _one_past(pool, hours(5))
    response = await stack.http.post(
        "/api/sessions/missed", headers=auth(family.coach.id), json={"sessionId": str(recent)}
    )
    assert response.status_code == 200, response.text
    assert [b["campaignName"] for b in await _delivered(stack, pool, recent)] == [SESSION_NOSHOW]


async def _preview(stack: Stack, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await stack.http.post("/api/sessions/message-preview", headers=headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _same_as_sent(preview: dict[str, Any], body: dict[str, Any], phone: str) -> None:
    assert preview["template"] == body["campaignName"]
    assert preview["template_params"] == body["templateParams"]
    assert preview["text"] == render_text(body["campaignName"], body["templateParams"])
    assert preview["recipient"]["phone"] == f"{phone[:3]}•••••{phone[-4:]}" != phone


async def test_the_complete_preview_is_what_is_then_sent(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id = await _one_past(pool)
    coach = auth(family.coach.id)
    preview = await _preview(stack, coach, sessionId=str(session_id), action="complete", parentMessage=FOR_PARENT)
    assert await _messages(pool, session_id) == []  # read-only
    assert (await pool.fetchval("SELECT status FROM scheduled_sessions WHERE id = $1", session_id)) == "pending"
    assert FOR_PARENT in preview["text"] and family.child.name in preview["text"]
    response = await stack.http.post(
        "/api/sessions/complete",
        headers=coach,
        json={"sessionId": str(session_id), "notes": PRIVATE, "parentMessage": FOR_PARENT},
    )
    assert response.status_code == 200, response.text
    [body] = await _delivered(stack, pool, session_id)
    _same_as_sent(preview, body, family.parent.phone)


async def test_the_no_show_preview_names_the_old_session_date_and_is_what_is_sent(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family, old = await _one_past(pool, hours(24 * 10))
    coach = auth(family.coach.id)
    by_default = await _preview(stack, coach, sessionId=str(old), action="missed")
    assert by_default["notify_parent"] is False and by_default["template"] is None and by_default["text"] is None
    preview = await _preview(stack, coach, sessionId=str(old), action="missed", notifyParent=True)
    scheduled_at = await pool.fetchval("SELECT scheduled_at FROM scheduled_sessions WHERE id = $1", old)
    day = format_when(scheduled_at, family.coach.timezone)
    assert day in preview["text"] and preview["template"] == SESSION_NOSHOW
    response = await stack.http.post(
        "/api/sessions/missed", headers=coach, json={"sessionId": str(old), "notifyParent": True, "notes": PRIVATE}
    )
    assert response.status_code == 200, response.text
    [body] = await _delivered(stack, pool, old)
    _same_as_sent(preview, body, family.parent.phone)
    assert day in render_text(body["campaignName"], body["templateParams"])


def _future_day(days: int) -> str:
    return (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=days)).date().isoformat()


async def test_the_reschedule_and_cancellation_previews_are_what_is_sent(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    now = now_utc()
    moved, asked = await make_sessions(pool, family, [now - hours(30), now + hours(24 * 6)], statuses=["pending"] * 2)
    coach = auth(family.coach.id)
    move = {"sessionId": str(moved), "newDate": _future_day(3), "newTime": "16:00", "reason": "school trip"}
    preview = await _preview(stack, coach, action="reschedule", **move)
    assert (
        preview["template"] == SESSION_RESCHEDULED and "16:00" in preview["text"] and "school trip" in preview["text"]
    )
    assert (await stack.http.patch("/api/sessions", headers=coach, json=move)).status_code == 200
    [body] = await _delivered(stack, pool, moved)
    _same_as_sent(preview, body, family.parent.phone)

    ask = {"sessionId": str(asked), "reason": "coach is unwell"}
    preview = await _preview(stack, coach, action="request-cancel", **ask)
    assert preview["template"] == CANCELLATION_REQUEST and "coach is unwell" in preview["text"]
    assert (await stack.http.post("/api/sessions/request-cancel", headers=coach, json=ask)).status_code == 202
    [body] = await _delivered(stack, pool, asked)
    _same_as_sent(preview, body, family.parent.phone)


async def test_an_admin_cancellation_preview_sends_the_parent_nothing(stack: Stack, pool: asyncpg.Pool) -> None:
    _, session_id = await _one_past(pool)
    preview = await _preview(stack, ADMIN, sessionId=str(session_id), action="cancel", reason="holiday week")
    assert preview["template"] is None and preview["text"] is None and preview["recipient"] is None


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"parentMessage": "Ma\u0000ya read"}, 422),
        ({"parentMessage": "x" * 501}, 422),
        ({"parentMessage": "two\nlines"}, 422),
        ({"parentMessage": "wide     gap"}, 422),
        ({"action": "delete"}, 422),
        ({"action": "complete", "reason": "not taken"}, 422),
        ({"action": "reschedule"}, 422),
        ({"notifyParent": True, "action": "complete"}, 422),
        ({"action": "cancel", "reason": "holiday"}, 403),
    ],
)
async def test_the_preview_refuses_bad_input(
    stack: Stack, pool: asyncpg.Pool, change: dict[str, Any], status: int
) -> None:
    family, session_id = await _one_past(pool)
    body = {"sessionId": str(session_id), "action": "complete"} | change
    response = await stack.http.post("/api/sessions/message-preview", headers=auth(family.coach.id), json=body)
    assert response.status_code == status, response.text


async def test_the_preview_of_another_coachs_session_is_not_found(stack: Stack, pool: asyncpg.Pool) -> None:
    _, session_id = await _one_past(pool)
    other = await make_family(pool)
    response = await stack.http.post(
        "/api/sessions/message-preview",
        headers=auth(other.coach.id),
        json={"sessionId": str(session_id), "action": "complete"},
    )
    assert response.status_code == 404 and response.json()["error"] == "session_not_found"


async def test_the_preview_refuses_what_the_action_would(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    now = now_utc()
    _, second = await make_sessions(pool, family, [now - hours(50), now - hours(26)], statuses=["pending"] * 2)
    response = await stack.http.post(
        "/api/sessions/message-preview",
        headers=auth(family.coach.id),
        json={"sessionId": str(second), "action": "complete"},
    )
    assert response.status_code == 409 and response.json()["error"] == "session_locked"


async def test_a_reschedule_notice_never_carries_an_earlier_cancellation_reason(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family, session_id = await _one_past(pool)
    # A request the parent declined ("Reschedule") leaves its reason on the row.
    await pool.execute(
        "UPDATE scheduled_sessions SET cancellation_status = 'rejected', cancellation_reason = 'coach has a cold',"
        " cancellation_requested_at = now() - interval '1 hour', cancellation_decided_by = 'parent',"
        " cancellation_decided_at = now() WHERE id = $1",
        session_id,
    )
    move = {"sessionId": str(session_id), "newDate": _future_day(4), "newTime": "17:00"}
    preview = await _preview(stack, auth(family.coach.id), action="reschedule", **move)
    assert (await stack.http.patch("/api/sessions", headers=auth(family.coach.id), json=move)).status_code == 200
    [body] = await _delivered(stack, pool, session_id)
    assert body["templateParams"][4] == "-"
    _same_as_sent(preview, body, family.parent.phone)
