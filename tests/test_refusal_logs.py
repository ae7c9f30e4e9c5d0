"""A refused action is an expected outcome: the worker logs it as one line with its code, never a
warning with a traceback (temporalio logs a failed activity at WARNING with ``exc_info`` unless its
ApplicationError is BENIGN)."""

import logging

import asyncpg
import pytest

from coach_sessions.logging import JsonFormatter
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import Stack, auth


async def test_a_refused_action_logs_one_line_with_its_code_and_no_traceback(
    stack: Stack, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    family = await make_family(pool)
    ids = await make_sessions(pool, family, [now_utc() - hours(48), now_utc() - hours(24)], statuses=["pending"] * 2)
    caplog.set_level(logging.INFO)  # the worker's level (LOG_LEVEL, default INFO)
    response = await stack.http.post(
        "/api/sessions/complete", headers=auth(family.coach.id), json={"sessionId": str(ids[1])}
    )
    assert response.status_code == 409 and response.json()["error"] == "session_locked", response.text

    shown = [r for r in caplog.records if r.levelno >= logging.INFO]
    with_traceback = [r for r in shown if r.exc_info or "Traceback" in JsonFormatter().format(r)]
    assert with_traceback == [], [f"{r.name} {r.levelname} {r.getMessage()}" for r in with_traceback]
    assert not [r for r in shown if r.levelno >= logging.WARNING and r.name.startswith("temporalio")]
    refusals = [r for r in shown if getattr(r, "code", None) == "session_locked"]
    assert len(refusals) == 1, [r.getMessage() for r in shown]
    assert refusals[0].levelno == logging.INFO and refusals[0].getMessage().startswith("action refused")
