"""The parent-reply webhook: who may call it and what it makes of odd payloads."""

import json
from typing import Any

import asyncpg
import pytest

from coach_sessions.statuses import ConsentChoice
from coach_sessions.whatsapp_inbound import (
    SIGNATURE_HEADER,
    choice_of,
    parse_replies,
    sign,
    signature_is_valid,
)
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import WEBHOOK_SECRET, Stack, auth, eventually
from tests.whatsapp_payloads import WEBHOOK, aisensy_envelope, button_tap, cloud_envelope, post_signed


async def _pending_request(stack: Stack, pool: asyncpg.Pool) -> tuple[Any, Any]:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(72)])
    response = await stack.http.post(
        "/api/sessions/request-cancel",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "reason": "Coach unwell"},
    )
    assert response.status_code == 202
    return family, session_id


async def _inbound_count(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM inbound_messages")  # type: ignore[no-any-return]


@pytest.mark.parametrize("envelope", [cloud_envelope, aisensy_envelope])
async def test_valid_signature_in_either_envelope_is_accepted(stack: Stack, pool: asyncpg.Pool, envelope: Any) -> None:
    family, session_id = await _pending_request(stack, pool)
    response = await post_signed(stack.http, envelope(button_tap(family.parent.phone, "Reschedule", context_id=None)))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "signalled"

    async def rejected() -> bool:
        return (
            await pool.fetchval("SELECT cancellation_status FROM scheduled_sessions WHERE id = $1", session_id)
            == "rejected"
        )

    await eventually(rejected)


async def test_signature_without_prefix_is_accepted(stack: Stack, pool: asyncpg.Pool) -> None:
    family, _ = await _pending_request(stack, pool)
    response = await post_signed(
        stack.http, cloud_envelope(button_tap(family.parent.phone, "Call Me", context_id=None)), prefix=""
    )
    assert response.json()["status"] == "signalled"


@pytest.mark.parametrize("case", ["bad", "missing", "altered", "wrong_secret", "empty"])
async def test_unsigned_or_badly_signed_posts_get_401_and_change_nothing(
    stack: Stack, pool: asyncpg.Pool, case: str
) -> None:
    family, session_id = await _pending_request(stack, pool)
    body = json.dumps(cloud_envelope(button_tap(family.parent.phone, "Approve", context_id=None))).encode()
    headers = {"Content-Type": "application/json"}
    if case == "bad":
        headers[SIGNATURE_HEADER] = "sha256=" + "0" * 64
    elif case == "altered":
        headers[SIGNATURE_HEADER] = "sha256=" + sign(WEBHOOK_SECRET, body)
        body = body.replace(b"Approve", b"Approvf")
    elif case == "wrong_secret":
        headers[SIGNATURE_HEADER] = sign("another-secret", body)
    elif case == "empty":
        headers[SIGNATURE_HEADER] = ""
    before = await _inbound_count(pool)
    response = await stack.http.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert await _inbound_count(pool) == before
    assert (
        await pool.fetchval("SELECT cancellation_status FROM scheduled_sessions WHERE id = $1", session_id) == "pending"
    )


async def test_malformed_json_is_400(stack: Stack) -> None:
    body = b'{"entry": [ this is not json'
    response = await stack.http.post(
        WEBHOOK, content=body, headers={SIGNATURE_HEADER: "sha256=" + sign(WEBHOOK_SECRET, body)}
    )
    assert response.status_code == 400 and response.json()["error"] == "malformed_payload"


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"entry": []},
        {
            "topic": "message.sender.user",
            "data": {
                "message": {
                    "id": "wamid.x",
                    "from": "911234567890",
                    "type": "text",
                    "text": {"body": "hello"},
                }
            },
        },
        [1, 2, 3],
        {"data": {"message": "not an object"}},
    ],
)
async def test_unmatched_payloads_are_ignored_with_200(stack: Stack, document: Any) -> None:
    response = await post_signed(stack.http, document)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ignored"


async def test_a_tap_from_an_unknown_number_is_ignored(stack: Stack, pool: asyncpg.Pool) -> None:
    response = await post_signed(
        stack.http, cloud_envelope(button_tap("+15550001111", "Approve", context_id="wamid.nope"))
    )
    assert response.json()["status"] == "ignored"
    assert await pool.fetchval("SELECT outcome FROM inbound_messages WHERE from_phone = '+15550001111'") == "ignored"


async def test_emoji_and_non_latin_text(stack: Stack, pool: asyncpg.Pool) -> None:
    family, _ = await _pending_request(stack, pool)
    free_text = button_tap(family.parent.phone, "ठीक है 👍 शुक्रिया", context_id=None)
    response = await post_signed(stack.http, aisensy_envelope(free_text))
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    stored = await pool.fetchval(
        "SELECT button_text FROM inbound_messages WHERE provider_message_id = $1", free_text["id"]
    )
    assert stored == "ठीक है 👍 शुक्रिया"
    # a real button whose text carries an emoji still counts
    response = await post_signed(
        stack.http, cloud_envelope(button_tap(family.parent.phone, "✅ Approve", context_id=None))
    )
    assert response.json()["status"] == "signalled"


def test_choice_mapping() -> None:
    assert choice_of("Approve") is ConsentChoice.APPROVE
    assert choice_of("APPROVE_CANCELLATION") is ConsentChoice.APPROVE
    assert choice_of(None, "Reschedule") is ConsentChoice.RESCHEDULE
    assert choice_of("Call Me") is ConsentChoice.CALL_ME
    assert choice_of("call_me") is ConsentChoice.CALL_ME
    assert choice_of("recall later") is None
    assert choice_of("thanks") is None


def test_signature_check() -> None:
    body = b'{"a": 1}'
    good = sign("s3cret", body)
    assert signature_is_valid("s3cret", body, good)
    assert signature_is_valid("s3cret", body, "sha256=" + good.upper())
    assert not signature_is_valid("s3cret", body + b" ", good)
    assert not signature_is_valid("", body, sign("", body))  # no secret configured: nothing passes
    assert not signature_is_valid("s3cret", body, None)


def test_parse_replies_reads_context_and_phone() -> None:
    [reply] = parse_replies(
        cloud_envelope(button_tap("+919800000001", "Approve", context_id="wamid.ctx", message_id="wamid.tap"))
    )
    assert reply.from_phone == "+919800000001"
    assert reply.context_message_id == "wamid.ctx" and reply.provider_message_id == "wamid.tap"
    assert reply.choice is ConsentChoice.APPROVE


async def test_a_tap_while_temporal_is_down_is_decided_when_it_is_delivered_again(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    """The signal fails (the server is down: 503); AiSensy delivers the same tap again afterwards, and
    that delivery signals it (it used to answer "duplicate", and the request auto-approved)."""
    from temporalio.testing import WorkflowEnvironment

    from devtools.embedded import venv_binary
    from tests.helpers import TEST_DATA_CONVERTER, api_client

    family, session_id = await _pending_request(stack, pool)
    tap = cloud_envelope(button_tap(family.parent.phone, "Reschedule", context_id=None))
    # A client that was connected to a server which has died since.
    gone = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(venv_binary("temporal-test-server")), data_converter=TEST_DATA_CONVERTER
    )
    await gone.shutdown()
    async with api_client(pool, gone.client, stack.task_queue) as during_the_outage:
        first = await post_signed(during_the_outage, tap)
    assert first.status_code == 503, first.text
    again = await post_signed(stack.http, tap)
    assert (again.status_code, again.json()["status"]) == (200, "signalled"), again.text

    async def rejected() -> bool:
        status = await pool.fetchval("SELECT cancellation_status FROM scheduled_sessions WHERE id = $1", session_id)
        return bool(status == "rejected")

    await eventually(rejected)
    third = await post_signed(stack.http, tap)
    assert third.json()["status"] == "duplicate"


async def test_five_taps_at_once_one_decides_and_the_others_hear_it_was_decided(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    """Only the first decision counts; the taps that lost (a Call Me among them, when it came after the
    decision) are answered "late", and the parent gets the "already decided" notice once."""
    import asyncio

    from coach_sessions.templates import CANCELLATION_ALREADY_DECIDED

    family, session_id = await _pending_request(stack, pool)
    texts = ["Approve", "Reschedule", "Call Me", "Approve", "Reschedule"]
    answers = await asyncio.gather(
        *(post_signed(stack.http, cloud_envelope(button_tap(family.parent.phone, t, context_id=None))) for t in texts)
    )
    statuses = [a.json()["status"] for a in answers]
    assert set(statuses) <= {"signalled", "late"}, statuses
    deciding = [status for status, text in zip(statuses, texts, strict=True) if text != "Call Me"]
    assert deciding.count("signalled") == 1, statuses
    notices = await pool.fetchval(
        "SELECT count(*) FROM outbound_messages WHERE session_id = $1 AND template_name = $2",
        session_id,
        CANCELLATION_ALREADY_DECIDED,
    )
    assert notices == 1
