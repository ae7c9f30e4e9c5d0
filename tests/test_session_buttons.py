"""Each ``can_*`` flag of a session is true exactly when the API accepts that action, through the real
stack (API, worker, time-skipping Temporal, PostgreSQL), for every class of session state.

A state is: status, a cancellation request awaiting the parent or not, an earlier session unresolved
(locked) or not, when it starts (in progress or past, inside the coach's minimum notice, later), who
asks (coach or admin). For each, the session is read as that principal and every action is tried: a
false flag must be refused with the very code the session named, a true one accepted. A refusal
changes nothing, so the refused actions share one copy of the state; each accepted one gets its own.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from coach_sessions.statuses import Role
from tests.conftest import build_stack
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.fakes.aisensy import FakeAiSensy
from tests.fakes.google_calendar import FakeGoogleCalendar
from tests.helpers import ADMIN, Stack, auth

NOTICE = hours(24)
# When the session starts, relative to now: in progress (or, for a pending one, over), inside the
# coach's notice, or later.
STARTS = {"started": -timedelta(minutes=10), "ended": -hours(3), "soon": hours(10), "later": hours(72)}
BUTTONS = ("complete", "mark_missed", "reschedule", "request_cancel", "withdraw_cancel", "cancel")


@dataclass(frozen=True)
class State:
    status: str
    consent: bool
    locked: bool
    when: str

    def __str__(self) -> str:
        return f"{self.status}/{'consent' if self.consent else '-'}/{'locked' if self.locked else 'free'}/{self.when}"


def states(status: str) -> list[State]:
    open_ = status in ("scheduled", "pending", "rescheduled")
    whens = ["ended"] if status == "pending" else (["started", "soon", "later"] if open_ else ["started", "later"])
    consents = [False, True] if open_ else [False]
    return [State(status, c, lk, w) for c in consents for lk in (False, True) for w in whens]


@pytest.fixture
async def noticed(
    pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    fake_google_calendar: FakeGoogleCalendar,
    fake_aisensy: FakeAiSensy,
) -> AsyncIterator[Stack]:
    async with build_stack(pool, temporal_env, fake_google_calendar, fake_aisensy, coach_min_notice=NOTICE) as stack:
        yield stack


async def _make(stack: Stack, pool: asyncpg.Pool, state: State) -> tuple[UUID, UUID]:
    """A fresh enrollment whose session 2 is in ``state`` (session 1 unresolved when locked)."""
    family = await make_family(pool)
    target_at = now_utc() + STARTS["later" if state.consent and state.when == "soon" else state.when]
    first = "pending" if state.locked else "completed"
    _, target = await make_sessions(
        pool, family, [now_utc() - hours(24 * 4), target_at], statuses=[first, state.status]
    )
    if state.consent:  # through the API, so that a consent child really waits for the parent
        response = await stack.http.post(
            "/api/sessions/request-cancel",
            headers=auth(family.coach.id),
            json={"sessionId": str(target), "reason": "Coach is travelling"},
        )
        assert response.status_code == 202, response.text
        if state.when == "soon":  # asked outside the notice; now inside it
            await pool.execute(
                "UPDATE scheduled_sessions SET scheduled_at = $2 WHERE id = $1", target, now_utc() + STARTS["soon"]
            )
    return family.coach.id, target


async def _press(stack: Stack, button: str, session_id: UUID, headers: dict[str, str]) -> Any:
    body: dict[str, Any] = {"sessionId": str(session_id)}
    day = (now_utc() + timedelta(days=5)).date().isoformat()
    match button:
        case "complete":
            return await stack.http.post("/api/sessions/complete", headers=headers, json=body)
        case "mark_missed":
            return await stack.http.post("/api/sessions/missed", headers=headers, json=body | {"notifyParent": False})
        case "reschedule":
            return await stack.http.patch(
                "/api/sessions", headers=headers, json=body | {"newDate": day, "newTime": "10:00"}
            )
        case "request_cancel":
            return await stack.http.post(
                "/api/sessions/request-cancel", headers=headers, json=body | {"reason": "Coach is travelling"}
            )
        case "withdraw_cancel":
            return await stack.http.post("/api/sessions/withdraw-cancel", headers=headers, json=body)
        case "cancel":
            return await stack.http.delete(
                "/api/sessions", headers=headers, params={"sessionId": str(session_id), "reason": "clash"}
            )
    raise AssertionError(button)


def _as(role: Role, coach_id: UUID) -> dict[str, str]:
    """The session's own coach, or an admin (a token of another subject)."""
    return auth(coach_id) if role is Role.COACH else ADMIN


async def _version(pool: asyncpg.Pool, session_id: UUID) -> int:
    return int(await pool.fetchval("SELECT version FROM scheduled_sessions WHERE id = $1", session_id))


async def _check(stack: Stack, pool: asyncpg.Pool, state: State, role: Role) -> list[str]:
    """Every disagreement between the session's flags and the API's answers for this state and role."""
    coach_id, session_id = await _make(stack, pool, state)
    headers = _as(role, coach_id)
    read = await stack.http.get("/api/sessions", headers=headers, params={"sessionId": str(session_id)})
    assert read.status_code == 200, read.text
    view = read.json()["session"]
    wrong = []
    if state.status in ("completed", "missed", "cancelled") and (view["is_locked"] or view["lock_reason"]):
        wrong.append(f"{state}: a finished session shows a lock")
    version = await _version(pool, session_id)
    refused = [b for b in BUTTONS if not view[f"can_{b}"]]
    for button in refused:
        answer = await _press(stack, button, session_id, headers)
        code = answer.json().get("error") if answer.status_code >= 400 else None
        if code != view["unavailable_reasons"][button]["code"]:
            wrong.append(f"{state} {role}: {button} flagged {view['unavailable_reasons'][button]} answered {code}")
    assert await _version(pool, session_id) == version, f"{state}: a refusal wrote"
    for index, button in enumerate(b for b in BUTTONS if view[f"can_{b}"]):
        if view["unavailable_reasons"][button] is not None:
            wrong.append(f"{state} {role}: {button} can, yet has a reason")
        coach, target = (coach_id, session_id) if index == 0 else await _make(stack, pool, state)
        answer = await _press(stack, button, target, _as(role, coach))
        if answer.status_code >= 300:
            wrong.append(f"{state} {role}: {button} flagged possible, answered {answer.status_code} {answer.text}")
    return wrong


@pytest.mark.parametrize("status", ["scheduled", "rescheduled", "pending", "completed", "missed", "cancelled"])
async def test_every_flag_is_true_exactly_when_the_api_accepts(noticed: Stack, pool: asyncpg.Pool, status: str) -> None:
    wrong = []
    for state in states(status):
        for role in (Role.COACH, Role.ADMIN):
            wrong += await _check(noticed, pool, state, role)
    assert wrong == []


async def test_an_admin_cancelled_session_shows_no_lock(stack: Stack, pool: asyncpg.Pool) -> None:
    """Session 3 cancelled by an admin while 2 is still open: finished, so never "locked" (nor 4's reason)."""
    family = await make_family(pool)
    now = now_utc()
    ids = await make_sessions(
        pool,
        family,
        [now - hours(72), now - hours(48), now + hours(48), now + hours(96)],
        statuses=["completed", "pending", "scheduled", "scheduled"],
    )
    response = await stack.http.delete(
        "/api/sessions", headers=ADMIN, params={"sessionId": str(ids[2]), "reason": "clash"}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["session"]["is_locked"], response.json()["session"]["lock_reason"]) == (False, None)
    listed = (
        await stack.http.get("/api/sessions", headers=auth(family.coach.id), params={"childId": str(family.child.id)})
    ).json()
    assert [(s["status"], s["is_locked"]) for s in listed["sessions"]] == [
        ("completed", False),
        ("pending", False),
        ("cancelled", False),
        ("scheduled", True),
    ]
    assert [s["lock_reason"] is None for s in listed["sessions"]] == [True, True, True, False]
