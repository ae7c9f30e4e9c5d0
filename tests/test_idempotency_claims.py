"""Concurrent copies of one keyed request (issue 18, part 4): the key is claimed before the action
runs, every copy gets the real outcome (or 409 idempotency_key_in_progress), the kept outcome is the
real one; and a second dispatch of a message being sent leaves the live attempt alone."""

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.messaging import MessagingActivities
from api.services.idempotency import KeyedRequest
from coach_sessions.contracts import Actor, CompleteInput, DeliverMessageInput
from coach_sessions.providers.whatsapp import SendResult, WhatsAppMessage, WhatsAppNotSentError
from coach_sessions.repositories.idempotency import IdempotencyRepository
from coach_sessions.repositories.outbox import BEING_DELIVERED, DeliveryAttempt, OutboxRepository, enqueue_message
from coach_sessions.templates import SESSION_SUMMARY
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import Stack, api_client, auth, eventually, running_worker

COPIES = 10
BOUND = timedelta(seconds=1)


async def _pending_session(pool: asyncpg.Pool, family: Family | None = None) -> tuple[Family, UUID]:
    family = family or await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(3)], statuses=["pending"])
    return family, session_id


async def _events(pool: asyncpg.Pool, session_id: UUID) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM learning_events WHERE session_id = $1", session_id))


async def _key_row(pool: asyncpg.Pool, principal_id: UUID, key: str) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        "SELECT * FROM api_idempotency_keys WHERE principal_id = $1 AND key = $2", principal_id, key
    )
    return dict(row) if row else None


def _complete_fingerprint(family: Family, key: str, session_id: UUID) -> str:
    """The fingerprint the API computes for a coach's complete without notes."""
    update = CompleteInput(actor=Actor(id=family.coach.id, role="coach"), notes=None)
    return KeyedRequest.of(family.coach.id, key, session_id, update).fingerprint


def _assert_one_outcome(answers: list[httpx.Response]) -> dict[str, Any]:
    """Every copy answered the completed session, or that its twin was still in progress."""
    done = [a for a in answers if a.status_code == 200]
    waiting = [a for a in answers if a.status_code != 200]
    assert done, [a.text for a in answers]
    for answer in waiting:
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"] == "idempotency_key_in_progress" and answer.headers["Retry-After"]
    first = done[0].json()
    assert all(a.json() == first for a in done)
    assert first["session"]["status"] == "completed" and first["session"]["version"] == 2
    return first  # type: ignore[no-any-return]


async def _assert_kept(pool: asyncpg.Pool, family: Family, key: str, answer: dict[str, Any]) -> None:
    row = await _key_row(pool, family.coach.id, key)
    assert row is not None and row["state"] == "done" and row["claim_token"] is None
    assert row["outcome"] == {"session": answer["session"]}


async def test_ten_copies_of_one_keyed_complete_get_one_outcome(stack: Stack, pool: asyncpg.Pool) -> None:
    sessions: list[UUID] = []
    for round_number in range(3):
        family, session_id = await _pending_session(pool)
        key = f"double-click-{round_number}-{uuid4()}"
        headers = auth(family.coach.id) | {"Idempotency-Key": key}
        body = {"sessionId": str(session_id)}
        answers = await asyncio.gather(
            *(stack.http.post("/api/sessions/complete", headers=headers, json=body) for _ in range(COPIES))
        )
        first = _assert_one_outcome(list(answers))
        assert await _events(pool, session_id) == 1
        await _assert_kept(pool, family, key, first)
        again = await stack.http.post("/api/sessions/complete", headers=headers, json=body)
        assert again.status_code == 200 and again.json() == first
        sessions.append(session_id)

    async def summaries_sent() -> bool:
        statuses = await pool.fetch("SELECT status FROM outbound_messages WHERE session_id = ANY($1)", sessions)
        return len(statuses) == 3 and all(r["status"] == "sent" for r in statuses)

    await eventually(summaries_sent)
    summaries = [m for m in stack.aisensy.messages if m["campaignName"] == SESSION_SUMMARY]
    assert len(summaries) == 3  # one per session, sent once
    assert await pool.fetchval("SELECT sum(attempts) FROM outbound_messages WHERE session_id = ANY($1)", sessions) == 3


async def test_copies_across_two_api_instances_get_one_outcome(stack: Stack, pool: asyncpg.Pool) -> None:
    async with api_client(pool, stack.env.client, stack.task_queue) as other:
        for round_number in range(3):
            family, session_id = await _pending_session(pool)
            key = f"proxy-retry-{round_number}-{uuid4()}"
            headers = auth(family.coach.id) | {"Idempotency-Key": key}
            body = {"sessionId": str(session_id)}
            answers = await asyncio.gather(
                *(
                    (stack.http if i % 2 else other).post("/api/sessions/complete", headers=headers, json=body)
                    for i in range(COPIES)
                )
            )
            first = _assert_one_outcome(list(answers))
            assert await _events(pool, session_id) == 1
            await _assert_kept(pool, family, key, first)


async def test_one_key_on_two_sessions_at_once_applies_one(stack: Stack, pool: asyncpg.Pool) -> None:
    family, first_session = await _pending_session(pool)
    _, second_session = await _pending_session(pool, await make_family(pool, coach=family.coach))
    headers = auth(family.coach.id) | {"Idempotency-Key": f"shared-{uuid4()}"}
    answers = await asyncio.gather(
        *(
            stack.http.post("/api/sessions/complete", headers=headers, json={"sessionId": str(session_id)})
            for session_id in (first_session, second_session)
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 422], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 422)
    assert refused.json()["error"] == "idempotency_key_reused"
    events = [await _events(pool, session_id) for session_id in (first_session, second_session)]
    assert sorted(events) == [0, 1]
    statuses = [
        await pool.fetchval("SELECT status FROM scheduled_sessions WHERE id = $1", s)
        for s in (first_session, second_session)
    ]
    assert sorted(statuses) == ["completed", "pending"]


async def test_a_live_claim_answers_in_progress_after_the_bound(pool: asyncpg.Pool, stack: Stack) -> None:
    family, session_id = await _pending_session(pool)
    key = f"live-{uuid4()}"
    fingerprint = _complete_fingerprint(family, key, session_id)
    token = await IdempotencyRepository(pool).claim(family.coach.id, key, fingerprint, lease=timedelta(minutes=1))
    assert token is not None
    async with api_client(pool, stack.env.client, stack.task_queue, action_answer_within=BOUND) as http:
        started = asyncio.get_running_loop().time()
        answer = await http.post(
            "/api/sessions/complete",
            headers=auth(family.coach.id) | {"Idempotency-Key": key},
            json={"sessionId": str(session_id)},
        )
        waited = asyncio.get_running_loop().time() - started
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "idempotency_key_in_progress" and answer.headers["Retry-After"] == "1"
    assert BOUND.total_seconds() <= waited < BOUND.total_seconds() + 1.0
    assert await _events(pool, session_id) == 0  # the copy waited; it did not act
    row = await _key_row(pool, family.coach.id, key)
    assert row is not None and row["state"] == "claimed" and row["claim_token"] == token


async def test_a_stale_claim_is_taken_over(stack: Stack, pool: asyncpg.Pool) -> None:
    """The API process holding the key died before acting: a retry takes the key over and acts."""
    family, session_id = await _pending_session(pool)
    key = f"stale-{uuid4()}"
    fingerprint = _complete_fingerprint(family, key, session_id)
    dead = await IdempotencyRepository(pool).claim(family.coach.id, key, fingerprint, lease=timedelta(minutes=1))
    assert dead is not None
    await pool.execute(
        "UPDATE api_idempotency_keys SET lease_until = now() - interval '1 second' WHERE claim_token = $1", dead
    )
    answer = await stack.http.post(
        "/api/sessions/complete",
        headers=auth(family.coach.id) | {"Idempotency-Key": key},
        json={"sessionId": str(session_id)},
    )
    assert answer.status_code == 200, answer.text
    assert await _events(pool, session_id) == 1
    await _assert_kept(pool, family, key, answer.json())
    # The dead holder's token keeps nothing.
    assert not await IdempotencyRepository(pool).finish(family.coach.id, key, dead, {"error": "x", "detail": "x"})


async def test_a_claim_taken_over_after_its_holder_committed_answers_that_commit(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    """The holder committed, then died before keeping its outcome: the retry finds the commit (by the
    key's request id in Postgres) and answers the completed session, not 409 invalid_status."""
    family, session_id = await _pending_session(pool)
    key = f"died-after-commit-{uuid4()}"
    headers = auth(family.coach.id) | {"Idempotency-Key": key}
    body = {"sessionId": str(session_id), "notes": "read aloud"}
    first = await stack.http.post("/api/sessions/complete", headers=headers, json=body)
    assert first.status_code == 200, first.text
    await pool.execute(
        "UPDATE api_idempotency_keys SET state = 'claimed', outcome = NULL, claim_token = $3,"
        " lease_until = now() - interval '1 second' WHERE principal_id = $1 AND key = $2",
        family.coach.id,
        key,
        uuid4(),
    )
    retry = await stack.http.post("/api/sessions/complete", headers=headers, json=body)
    assert retry.status_code == 200, retry.text
    assert retry.json()["session"]["status"] == "completed" and retry.json()["session"]["version"] == 2
    assert await _events(pool, session_id) == 1
    await _assert_kept(pool, family, key, retry.json())


async def test_an_unavailable_outcome_releases_the_key(pool: asyncpg.Pool, stack: Stack) -> None:
    family, session_id = await _pending_session(pool)
    key = f"unavailable-{uuid4()}"
    headers = auth(family.coach.id) | {"Idempotency-Key": key}
    body = {"sessionId": str(session_id)}
    task_queue = f"no-worker-{uuid4()}"
    async with api_client(pool, stack.env.client, task_queue, action_answer_within=BOUND) as http:
        copies = await asyncio.gather(
            *(http.post("/api/sessions/complete", headers=headers, json=body) for _ in range(3))
        )
        for copy in copies:  # the holder got no answer in time; its twins answer what it got, or in progress
            assert copy.status_code in (503, 409), copy.text
            assert copy.json()["error"] in ("temporarily_unavailable", "idempotency_key_in_progress")
        assert any(c.status_code == 503 for c in copies)

        async def released() -> bool:
            return await _key_row(pool, family.coach.id, key) is None

        await eventually(released)  # nothing kept: the next request runs the action again
        async with running_worker(stack.env.client, pool, task_queue=task_queue):
            retry = await http.post("/api/sessions/complete", headers=headers, json=body)
    assert retry.status_code == 200, retry.text
    assert await _events(pool, session_id) == 1
    await _assert_kept(pool, family, key, retry.json())


async def test_the_constraint_keeps_an_outcome_on_done_rows_only(pool: asyncpg.Pool) -> None:
    insert = (
        "INSERT INTO api_idempotency_keys (principal_id, key, fingerprint, state, outcome, claim_token, lease_until)"
        " VALUES ($1, $2, 'f', $3, $4, $5, $6)"
    )
    outcome: dict[str, Any] = {"session": {}}
    token, lease = uuid4(), now_utc() + hours(1)
    for state, kept, claim_token, lease_until in [
        ("done", None, None, None),  # done without its outcome
        ("claimed", outcome, token, lease),  # an outcome while claimed
        ("claimed", None, None, lease),  # claimed by nobody
        ("claimed", None, token, None),  # claimed with no lease
    ]:
        with pytest.raises(asyncpg.CheckViolationError):
            await pool.execute(insert, uuid4(), "k", state, kept, claim_token, lease_until)
    await pool.execute(insert, uuid4(), "k", "claimed", None, token, lease)
    await pool.execute(insert, uuid4(), "k", "done", outcome, None, None)


# ----- the outbox: a second dispatch of a message being sent -------------------------------------


async def _queued_message(pool: asyncpg.Pool) -> UUID:
    async with pool.acquire() as conn:
        return await enqueue_message(
            conn,
            idempotency_key=f"test:{uuid4()}",
            template_name=SESSION_SUMMARY,
            destination="+919812345678",
            user_name="Priya",
            template_params=["Priya"],
            session_id=None,
            child_id=None,
        )


async def _message_row(pool: asyncpg.Pool, message_id: UUID) -> dict[str, Any]:
    return dict(await pool.fetchrow("SELECT * FROM outbound_messages WHERE id = $1", message_id))


def _attempt(delivery: str, number: int = 1, alive_for: timedelta = timedelta(minutes=1)) -> DeliveryAttempt:
    return DeliveryAttempt(delivery=delivery, number=number, alive_for=alive_for)


async def test_a_second_dispatch_leaves_a_live_attempt_alone_and_its_release_still_works(pool: asyncpg.Pool) -> None:
    outbox = OutboxRepository(pool)
    message_id = await _queued_message(pool)
    first = _attempt("wf/run/1")
    message, status = await outbox.claim(message_id, first)
    assert message is not None and status == "sending"
    assert await outbox.claim(message_id, _attempt("wf/run/2")) == (None, BEING_DELIVERED)
    assert (await _message_row(pool, message_id))["status"] == "sending"
    # The provider proved nothing was sent: the first attempt's claim is released, and only by it.
    assert not await outbox.release(message_id, _attempt("wf/run/2"), "503")
    assert await outbox.release(message_id, first, "503")
    assert (await _message_row(pool, message_id))["status"] == "queued"
    message, status = await outbox.claim(message_id, _attempt("wf/run/1", number=2))  # its retry sends it
    assert message is not None and status == "sending"


async def test_a_claim_whose_holder_died_is_in_doubt(pool: asyncpg.Pool) -> None:
    outbox = OutboxRepository(pool)
    # A later attempt of the same delivery: the earlier one died mid-send.
    message_id = await _queued_message(pool)
    await outbox.claim(message_id, _attempt("wf/run/1"))
    assert await outbox.claim(message_id, _attempt("wf/run/1", number=2)) == (None, "in_doubt")
    # Another delivery, once the holder's lease ran out.
    message_id = await _queued_message(pool)
    await outbox.claim(message_id, _attempt("wf/run/1"))
    await pool.execute(
        "UPDATE outbound_messages SET lease_until = now() - interval '1 second' WHERE id = $1", message_id
    )
    assert await outbox.claim(message_id, _attempt("wf/run/2")) == (None, "in_doubt")
    assert not await outbox.release(message_id, _attempt("wf/run/1"), "too late: in doubt stays for ops")


async def test_a_claim_by_a_worker_from_before_0007_is_named_leased_and_left_alone(pool: asyncpg.Pool) -> None:
    outbox = OutboxRepository(pool)
    message_id = await _queued_message(pool)
    # What a worker from before migration 0007 writes (a rolling deploy, the benchmark's A/B).
    await pool.execute("UPDATE outbound_messages SET status = 'sending' WHERE id = $1", message_id)
    row = await _message_row(pool, message_id)
    assert (row["claimed_by"], row["claimed_attempt"]) == ("worker-before-0007", 1)
    assert await outbox.claim(message_id, _attempt("wf/run/9")) == (None, BEING_DELIVERED)
    await pool.execute(
        "UPDATE outbound_messages SET lease_until = now() - interval '1 second' WHERE id = $1", message_id
    )
    assert await outbox.claim(message_id, _attempt("wf/run/9")) == (None, "in_doubt")


async def test_the_constraint_refuses_a_sending_row_without_its_attempt(pool: asyncpg.Pool) -> None:
    message_id = await _queued_message(pool)
    await OutboxRepository(pool).claim(message_id, _attempt("wf/run/1"))
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE outbound_messages SET claimed_by = NULL WHERE id = $1", message_id)


class GatedWhatsApp:
    """The first send waits at a gate, then fails in a way that proves nothing was sent."""

    name = "gated"

    def __init__(self) -> None:
        self.entered, self.gate = asyncio.Event(), asyncio.Event()
        self.sent: list[WhatsAppMessage] = []

    async def send(self, message: WhatsAppMessage) -> SendResult:
        if not self.entered.is_set():
            self.entered.set()
            await self.gate.wait()
            raise WhatsAppNotSentError("503 Service Unavailable", status_code=503)
        self.sent.append(message)
        return SendResult(provider=self.name, provider_message_id="gated-1")


def _environment(activity_id: str, attempt: int = 1) -> ActivityEnvironment:
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(
        environment.info, activity_id=activity_id, attempt=attempt, start_to_close_timeout=timedelta(seconds=30)
    )
    return environment


async def test_twin_dispatches_through_the_activity_send_once_after_a_not_sent_error(pool: asyncpg.Pool) -> None:
    whatsapp = GatedWhatsApp()
    activities = MessagingActivities(OutboxRepository(pool), whatsapp)
    request = DeliverMessageInput(message_id=await _queued_message(pool))
    first = asyncio.create_task(_environment("1").run(activities.deliver_message, request))
    await whatsapp.entered.wait()
    assert await _environment("2").run(activities.deliver_message, request) == BEING_DELIVERED
    whatsapp.gate.set()
    with pytest.raises(WhatsAppNotSentError):
        await first
    assert (await _message_row(pool, request.message_id))["status"] == "queued"  # not in_doubt: still deliverable
    assert await _environment("1", attempt=2).run(activities.deliver_message, request) == "sent"
    row = await _message_row(pool, request.message_id)
    assert (row["status"], row["attempts"], len(whatsapp.sent)) == ("sent", 2, 1)
