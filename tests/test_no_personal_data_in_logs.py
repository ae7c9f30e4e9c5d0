"""No personal data in the logs of a whole scenario (issue 22, "Nothing personal where it need not be").

Admin creates a coach, a parent and a child with planted unique names, phone and email, and enrols the
child; the coach completes a session with notes (quoting a phone number) and asks to cancel another
with a reason; the parent taps Approve on WhatsApp (a signed webhook whose contact profile carries the
parent's name); the coach reads a pre-session brief. Every record of every logger, at DEBUG, is then
rendered as production renders it (``JsonFormatter``, *without* ``PersonalDataFilter``: the call sites
are what is tested, not the net) and none may carry a planted string. Ids must be there.
"""

import json
import logging
import secrets
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from coach_sessions.logging import (
    _STANDARD,
    PAYLOAD_LOGGERS,
    JsonFormatter,
    PersonalDataFilter,
    keep_payloads_out_of_logs,
)
from coach_sessions.providers.whatsapp import LocalWhatsAppProvider
from coach_sessions.temporal import enrollment_workflow_id
from tests.factories import now_utc
from tests.helpers import ADMIN, Stack, api_client, auth, eventually, fake_providers, running_worker
from tests.whatsapp_payloads import button_tap, cloud_envelope, post_signed

if TYPE_CHECKING:  # the fakes are pytest plugins (conftest): importing them here would skip assert rewriting
    from tests.fakes.aisensy import FakeAiSensy
    from tests.fakes.google_calendar import FakeGoogleCalendar


def _token() -> str:
    return secrets.token_hex(4)


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


class Planted:
    def __init__(self) -> None:
        tag = _token()
        self.child_first = f"Zephyrine{tag}"
        self.child_surname = f"Quillfeather{tag}"
        self.parent_name = f"Ottoline{tag} Brackwater{tag}"
        self.parent_phone = "+9197" + _digits(8)
        self.parent_email = f"ottoline.{tag}@example.org"
        self.coach_name = f"Marigold{tag} Thistlewood{tag}"
        self.coach_email = f"marigold.{tag}@example.org"
        self.quoted_phone = "+9196" + _digits(8)
        self.notes = f"Nightjar{tag} read the ostrich passage; mother asked to be called on {self.quoted_phone}."
        self.reason = f"Plumquartz{tag} family wedding out of town"
        self.session_ids: list[UUID] = []

    @property
    def child_name(self) -> str:
        return f"{self.child_first} {self.child_surname}"

    def strings(self) -> dict[str, str]:
        """Every planted string, and the parts a log line might carry on its own."""
        values = {
            "child first name": self.child_first,
            "child surname": self.child_surname,
            "parent name": self.parent_name,
            "parent surname": self.parent_name.split()[1],
            "parent phone": self.parent_phone,
            "parent phone digits": self.parent_phone.lstrip("+"),
            "parent email": self.parent_email,
            "coach name": self.coach_name,
            "coach email": self.coach_email,
            "quoted phone": self.quoted_phone,
            "quoted phone digits": self.quoted_phone.lstrip("+"),
            "notes": self.notes,
            "notes' word": self.notes.split()[0],
            "reason": self.reason,
            "reason's word": self.reason.split()[0],
        }
        return values


@pytest.fixture(params=["local", "aisensy"])
async def scenario_stack(
    request: pytest.FixtureRequest,
    pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    fake_google_calendar: "FakeGoogleCalendar",
    fake_aisensy: "FakeAiSensy",
) -> AsyncIterator[tuple[Stack, str]]:
    """The ``stack`` (real Google Calendar client against its fake), with the *local* WhatsApp provider
    (the one that logs instead of sending) or the real AiSensy client against its fake."""
    async with fake_providers(fake_google_calendar, fake_aisensy) as (google, whatsapp):
        sender = LocalWhatsAppProvider() if request.param == "local" else whatsapp
        async with running_worker(temporal_env.client, pool, calendar=google, whatsapp=sender) as tq:
            async with api_client(pool, temporal_env.client, tq) as http:
                yield Stack(temporal_env, http, tq, fake_google_calendar, fake_aisensy, google, whatsapp), request.param


async def _post(stack: Stack, path: str, who: dict[str, str], body: dict[str, Any], status: int) -> Any:
    response = await stack.http.post(path, headers=who, json=body)
    assert response.status_code == status, (path, response.text)
    return response.json()


def rendered(record: logging.LogRecord) -> str:
    """The record as the API's and the worker's stdout carry it, plus its extras' reprs."""
    extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
    return "\n".join([record.getMessage(), JsonFormatter().format(record), repr(extras)])


def leaks(records: list[logging.LogRecord], planted: dict[str, str]) -> list[str]:
    found = []
    for record in records:
        text = rendered(record)
        for what, value in planted.items():
            if value.lower() in text.lower():
                at = text.lower().index(value.lower())
                found.append(f"{what} in {record.name} {record.levelname}: …{text[max(0, at - 150) : at + 50]}…")
    return found


async def test_a_whole_scenario_logs_ids_and_no_personal_data(
    scenario_stack: tuple[Stack, str], pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    (stack, sender), planted = scenario_stack, Planted()
    caplog.set_level(logging.DEBUG)  # the root logger: every logger's records, at every level
    payload_loggers = {name: logging.getLogger(name).level for name in PAYLOAD_LOGGERS}
    keep_payloads_out_of_logs()  # as configure_logging does in the API and the worker
    try:
        await _scenario(stack, planted, pool)
    finally:
        for name, level in payload_loggers.items():
            logging.getLogger(name).setLevel(level)
    records = list(caplog.records)
    found = leaks(records, planted.strings())
    assert found == [], "\n".join(found)
    # Not vacuous: the lines are there, with their ids.
    everything = "\n".join(rendered(r) for r in records)
    sent = "LOCAL WHATSAPP (not sent)" if sender == "local" else "message sent"
    assert sent in everything and "parent reply" in everything
    assert planted.session_ids and all(str(i) in everything for i in planted.session_ids)


async def _scenario(stack: Stack, planted: Planted, pool: asyncpg.Pool) -> None:

    coach = await _post(stack, "/api/coaches", ADMIN, {"name": planted.coach_name, "email": planted.coach_email}, 201)
    parent = await _post(
        stack,
        "/api/parents",
        ADMIN,
        {"name": planted.parent_name, "phone": planted.parent_phone, "email": planted.parent_email},
        201,
    )
    child = await _post(
        stack,
        "/api/children",
        ADMIN,
        {"name": planted.child_name, "age": 7, "parentId": parent["id"], "coachId": coach["id"]},
        201,
    )
    enrolled = await _post(
        stack,
        "/api/enrollments",
        ADMIN,
        {
            "childId": child["id"],
            "coachId": coach["id"],
            "startDate": (now_utc() - timedelta(days=2)).date().isoformat(),
            "sessionTime": "10:00",
            "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "sessionCount": 6,
        },
        201,
    )
    await stack.env.client.get_workflow_handle(enrollment_workflow_id(enrolled["enrollment"]["id"])).result()
    sessions = sorted(enrolled["sessions"], key=lambda s: s["session_number"])
    first, later = UUID(sessions[0]["id"]), UUID(sessions[-1]["id"])
    coach_auth = auth(UUID(coach["id"]))

    await _post(stack, "/api/sessions/complete", coach_auth, {"sessionId": str(first), "notes": planted.notes}, 200)
    await _post(
        stack, "/api/sessions/request-cancel", coach_auth, {"sessionId": str(later), "reason": planted.reason}, 202
    )

    async def request_sent() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT o.status = 'sent' FROM scheduled_sessions s"
                " JOIN outbound_messages o ON o.id = s.cancellation_message_id WHERE s.id = $1",
                later,
            )
        )

    await eventually(request_sent)
    envelope = cloud_envelope(button_tap(planted.parent_phone, "Approve", context_id=None))
    envelope["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = planted.parent_name
    tapped = await post_signed(stack.http, envelope)
    assert tapped.status_code == 200 and tapped.json()["status"] == "signalled", tapped.text

    async def cancelled() -> bool:
        return bool(await pool.fetchval("SELECT status = 'cancelled' FROM scheduled_sessions WHERE id = $1", later))

    await eventually(cancelled)
    prep = await stack.http.get("/api/coach/session-prep", params={"sessionId": sessions[-2]["id"]}, headers=coach_auth)
    assert prep.status_code == 200, prep.text
    planted.session_ids = [first, later]


def test_the_filter_masks_phone_numbers_and_emails_in_messages_arguments_and_extras() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "to=%s (%s)", ("+919812345678", "a.parent@example.org"), None
    )
    record.__dict__["context"] = {"phone": "+91 98123 45678", "ids": ["9812345678"], "session_id": "3f2a-1"}
    assert PersonalDataFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "to=[phone] ([email])"
    assert line["context"] == {"phone": "[phone]", "ids": ["[phone]"], "session_id": "3f2a-1"}


def test_a_logged_exception_shows_where_not_what() -> None:
    planted = "Input should be valid, got 'Zephyrine Quillfeather' +919812345678"
    try:
        raise ValueError(planted)
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "unhandled error", None, sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert "builtins.ValueError" in line["exc"] and "test_no_personal_data_in_logs.py" in line["exc"]
    assert "Zephyrine" not in line["exc"] and "9812345678" not in line["exc"]
