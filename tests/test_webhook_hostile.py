"""The parent-reply webhook under attack (issue 8): other families' replies, odd shapes, big bodies."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from coach_sessions.whatsapp_inbound import SIGNATURE_HEADER, sign
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, WEBHOOK_SECRET, Stack, auth, eventually
from tests.whatsapp_payloads import WEBHOOK, button_tap, cloud_envelope, post_signed


async def _request(stack: Stack, pool: asyncpg.Pool) -> tuple[Family, UUID, str]:
    """A pending cancellation request whose WhatsApp message has gone out; its provider message id."""
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(72)])
    response = await stack.http.post(
        "/api/sessions/request-cancel",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "reason": "Coach unwell"},
    )
    assert response.status_code == 202, response.text

    async def sent() -> str | None:
        return await pool.fetchval(  # type: ignore[no-any-return]
            "SELECT provider_message_id FROM outbound_messages WHERE session_id = $1"
            " AND template_name = 'p26_cancellation_request' AND status = 'sent'",
            session_id,
        )

    return family, session_id, await eventually(sent)


async def _cancellation(pool: asyncpg.Pool, session_id: UUID) -> tuple[str, str]:
    row = await pool.fetchrow("SELECT status, cancellation_status FROM scheduled_sessions WHERE id = $1", session_id)
    return row["status"], row["cancellation_status"]


# ----- item 1: a reply counts only from the number the message went to ---------------------------


async def test_another_familys_reply_cannot_cancel_a_session(
    stack: Stack, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    family_a, session_a, _ = await _request(stack, pool)
    _, session_b, message_to_b = await _request(stack, pool)
    caplog.set_level(logging.INFO, logger="coach_sessions.webhooks")
    forged = button_tap(family_a.parent.phone, "Approve", context_id=message_to_b)
    response = await post_signed(stack.http, cloud_envelope(forged))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ignored"
    await asyncio.sleep(0.3)  # a wrongly sent signal would land within this
    assert await _cancellation(pool, session_b) == ("scheduled", "pending")
    assert await _cancellation(pool, session_a) == ("scheduled", "pending")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "coach_sessions.webhooks"]
    assert warnings and getattr(warnings[0], "inbound_message_id", None) == forged["id"]
    stored = await pool.fetchrow(
        "SELECT outcome, matched_session_id FROM inbound_messages WHERE provider_message_id = $1", forged["id"]
    )
    assert stored["outcome"] == "ignored"


async def test_the_recipients_own_reply_with_context_still_counts(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, message_id = await _request(stack, pool)
    response = await post_signed(
        stack.http, cloud_envelope(button_tap(family.parent.phone, "Approve", context_id=message_id))
    )
    assert response.json()["status"] == "signalled"

    async def cancelled() -> bool:
        return await _cancellation(pool, session_id) == ("cancelled", "approved")

    await eventually(cancelled)


# ----- item 9: late taps queue one "already decided" per request ---------------------------------


async def test_ten_late_taps_queue_one_already_decided_message(stack: Stack, pool: asyncpg.Pool) -> None:
    family, session_id, message_id = await _request(stack, pool)
    decided = await stack.http.post(
        "/api/sessions/decide-cancel", headers=ADMIN, json={"sessionId": str(session_id), "decision": "approve"}
    )
    assert decided.status_code == 200, decided.text
    for _ in range(10):
        tap = button_tap(family.parent.phone, "Reschedule", context_id=message_id)
        assert (await post_signed(stack.http, cloud_envelope(tap))).json()["status"] == "late"
    count = await pool.fetchval(
        "SELECT count(*) FROM outbound_messages"
        " WHERE session_id = $1 AND template_name = 'p28_cancellation_already_decided'",
        session_id,
    )
    assert count == 1


# ----- item 3: signed bodies of an unexpected shape ---------------------------------------------

ODD_SHAPES: list[Any] = [
    {"entry": [1, 2, 3]},
    {"entry": "text"},
    {"entry": {"changes": []}},
    {"entry": [{"changes": 5}]},
    {"entry": [{"changes": [1, "x", None]}]},
    {"entry": [{"changes": [{"value": [1]}]}]},
    {"entry": [{"changes": [{"value": {"messages": 7}}]}]},
    {"entry": [{"changes": [{"value": {"messages": [7, "x"]}}]}]},
    {"data": {"message": [1, None]}},
    {"data": []},
    {"messages": {"id": "x"}},
    {"messages": [{"id": ["x"], "from": {"a": 1}}]},
    {"messages": [{"id": "wamid.n", "from": 1.5e300, "button": {"text": "Approve"}}]},
    {"messages": [{"id": "wamid.\u0000", "from": "1555\u00000001", "button": {"text": "Appr\u0000ove"}}]},
    {"messages": [{"id": "wamid.ctx", "from": "15550001", "context": {"id": ["x"]}, "button": {"payload": 1}}]},
]


@pytest.mark.parametrize("document", ODD_SHAPES)
async def test_odd_shapes_are_ignored_or_400_never_500(stack: Stack, document: Any) -> None:
    response = await post_signed(stack.http, document)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert response.json()["status"] == "ignored"


async def _post_raw(stack: Stack, body: bytes) -> Any:
    return await stack.http.post(
        WEBHOOK,
        content=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(WEBHOOK_SECRET, body)},
    )


@pytest.mark.parametrize(
    "body",
    [
        b'{"messages": [{"id": "wamid.s1", "from": "15550001", "button": {"text": "\\ud800 Approve"}}]}',
        b'{"messages": [{"id": "wamid.lone-\\udfff", "from": "15550001", "button": {"payload": "\\udc00"}}]}',
        b'{"messages": [{"id": "wamid.s2", "from": "15550001", "button": {"text": "Approve"}, "x": '
        + b"[" * 5000
        + b"]" * 5000
        + b"}]}",
        b"[" * 30_000 + b"]" * 30_000,  # under the size cap, over the parser's depth
        b'{"messages": [{"id": "wamid.s3", "from": "15550001", "deep": ' + b'{"a":' * 500 + b"1" + b"}" * 500 + b"}]}",
    ],
)
async def test_surrogates_and_deep_nesting_are_ignored_or_400(stack: Stack, body: bytes) -> None:
    response = await _post_raw(stack, body)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert response.json()["status"] == "ignored"


# ----- item 4: size before reading, any malformed signature is a bad signature -------------------


async def test_an_oversized_body_is_413_before_the_signature_is_checked(stack: Stack) -> None:
    body = b'{"entry": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await stack.http.post(WEBHOOK, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "payload_too_large"


async def test_an_oversized_chunked_body_is_413_without_being_read_whole(stack: Stack) -> None:
    chunks_read = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal chunks_read
        for _ in range(2048):  # 2048 x 64 KiB = 128 MiB if read whole
            chunks_read += 1
            yield b"x" * 65536

    response = await stack.http.post(WEBHOOK, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert chunks_read < 64


async def test_a_big_api_body_is_413_too(stack: Stack) -> None:
    response = await stack.http.post(
        "/api/parents", headers=ADMIN, json={"name": "x" * 2_000_000, "phone": "+919812345678"}
    )
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"


@pytest.mark.parametrize(
    "header",
    ["sha256=é" + "0" * 63, "sha256=" + "ü" * 64, "ﬀ", "sha256=" + "0" * 10_000, "sha256=\x00"],
)
async def test_a_malformed_signature_is_401(stack: Stack, header: str) -> None:
    body = b'{"entry": []}'
    response = await stack.http.post(
        WEBHOOK,
        content=body,
        headers=[(b"Content-Type", b"application/json"), (SIGNATURE_HEADER.encode(), header.encode("utf-8"))],
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
