"""GET /api/coach/session-prep end to end: real worker, time-skipping Temporal, google-genai against the fake."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.error_bodies import model_name
from coach_sessions.providers.brief import GeminiBriefProvider
from coach_sessions.temporal import session_workflow_id
from tests.declared_errors import codes_of
from tests.factories import Family, make_family, make_sessions, now_utc
from tests.fakes.gemini import FakeGemini, prompt_of
from tests.helpers import ADMIN, api_client, auth, running_worker
from tests.test_gemini_providers import gemini_settings

NOTES = [
    ("session", "Struggled to blend consonant clusters like st, bl and tr; guessed from the first letter."),
    ("assessment", "Fluency check: 48 words per minute on a level 6 passage, reading aloud with few pauses."),
    ("session", "Loved the animal story and asked to read the next one at home; proud of her new badge."),
    ("quiz", "Vocabulary quiz: 7 of 10 words; confused 'enormous' with 'nervous'."),
]


@dataclass
class Prep:
    env: WorkflowEnvironment
    http: httpx.AsyncClient
    gemini: FakeGemini
    task_queue: str


@pytest.fixture
async def prep(pool: asyncpg.Pool, temporal_env: WorkflowEnvironment, fake_gemini: FakeGemini) -> AsyncIterator[Prep]:
    writer = GeminiBriefProvider(gemini_settings(fake_gemini.base_url))
    async with running_worker(temporal_env.client, pool, brief_writer=writer) as tq:
        async with api_client(pool, temporal_env.client, tq) as http:
            yield Prep(temporal_env, http, fake_gemini, tq)


async def add_notes(pool: asyncpg.Pool, family: Family, notes: list[tuple[str, str]]) -> list[UUID]:
    start = datetime.now(UTC) - timedelta(days=30)
    return [
        await pool.fetchval(
            "INSERT INTO learning_events (child_id, coach_id, event_type, event_date, content_for_embedding)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            family.child.id,
            family.coach.id,
            kind,
            start + timedelta(days=i),
            text,
        )
        for i, (kind, text) in enumerate(notes)
    ]


async def get_prep(prep: Prep, session_id: UUID, headers: dict[str, str]) -> httpx.Response:
    return await prep.http.get("/api/coach/session-prep", params={"sessionId": str(session_id)}, headers=headers)


async def future_session(
    pool: asyncpg.Pool, *, notes: list[tuple[str, str]] = NOTES
) -> tuple[Family, UUID, list[UUID]]:
    family = await make_family(pool)
    event_ids = await add_notes(pool, family, notes)
    # Far ahead: the pre-session timer (2 h before) never fires in these tests; time is not skipped.
    [session_id] = await make_sessions(pool, family, [now_utc() + timedelta(days=30)])
    return family, session_id, event_ids


async def test_the_brief_cites_this_childs_events_and_is_then_served_from_storage(
    prep: Prep, pool: asyncpg.Pool
) -> None:
    family, session_id, event_ids = await future_session(pool)
    other = await make_family(pool, coach=family.coach)
    other_ids = await add_notes(pool, other, [("session", "Struggled to blend consonant clusters too.")])

    first = await get_prep(prep, session_id, auth(family.coach.id))
    assert first.status_code == 200, first.text
    brief = first.json()
    [body] = prep.gemini.prompts
    prompt = prompt_of(body)
    sent = {UUID(e["id"]) for e in prompt["events"]}
    assert sent == set(event_ids) and not sent & set(other_ids)  # this child's events, only
    assert prompt["child"] == {"first_name": family.child.name.split()[0], "age": family.child.age}
    assert family.parent.phone not in body["contents"][0]["parts"][0]["text"]
    assert {UUID(s["id"]) for s in brief["sources"]} == set(event_ids)
    assert brief["model"] == "gemini-3.1-flash-lite" and brief["stale"] is False
    assert set(brief) == {
        "session_id", "challenges", "motivators", "recommended_activities", "session_focus",
        "sources", "generated_at", "model", "stale",
    }  # fmt: skip
    assert brief["session_focus"]["event_ids"] and brief["challenges"][0]["text"]

    again = await get_prep(prep, session_id, ADMIN)
    assert again.status_code == 200 and again.json() == brief  # stored and fresh: no model call
    assert prep.gemini.generate_calls == 1


async def test_a_new_learning_event_makes_the_brief_stale_and_the_next_read_regenerates(
    prep: Prep, pool: asyncpg.Pool
) -> None:
    family, session_id, _ = await future_session(pool)
    assert (await get_prep(prep, session_id, auth(family.coach.id))).status_code == 200
    added = await prep.http.post(
        "/api/learning-events",
        headers=auth(family.coach.id),
        json={
            "childId": str(family.child.id),
            "eventType": "session",
            "eventData": {"skill": "blends"},
            "content": "Struggles less with blends now; still reverses b and d when tired.",
        },
    )
    assert added.status_code == 201, added.text
    second = await get_prep(prep, session_id, auth(family.coach.id))
    assert second.status_code == 200 and second.json()["stale"] is False
    assert prep.gemini.generate_calls == 2
    assert added.json()["id"] in {e["id"] for e in prompt_of(prep.gemini.prompts[1])["events"]}


async def test_ten_concurrent_requests_run_one_generation(prep: Prep, pool: asyncpg.Pool) -> None:
    family, session_id, _ = await future_session(pool)
    prep.gemini.slow(0.5)  # all ten arrive while the one generation is in flight
    answers = await asyncio.gather(*(get_prep(prep, session_id, auth(family.coach.id)) for _ in range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert prep.gemini.generate_calls == 1
    assert len({a.json()["generated_at"] for a in answers}) == 1


async def test_a_429_is_retried(prep: Prep, pool: asyncpg.Pool) -> None:
    family, session_id, _ = await future_session(pool)
    prep.gemini.fail_next(1, 429)
    answer = await get_prep(prep, session_id, auth(family.coach.id))
    assert answer.status_code == 200, answer.text
    calls = [r for r in prep.gemini.request_log if r.path.endswith(":generateContent")]
    assert len(calls) == 2 and prep.gemini.generate_calls == 1  # the 429, then the answer


async def test_model_down_serves_the_last_brief_as_stale_or_503_without_one(prep: Prep, pool: asyncpg.Pool) -> None:
    family, session_id, _ = await future_session(pool)
    prep.gemini.outage(503)
    unavailable = await get_prep(prep, session_id, auth(family.coach.id))
    assert unavailable.status_code == 503
    assert unavailable.json()["error"] == "brief_unavailable"
    assert len([r for r in prep.gemini.request_log if r.path.endswith(":generateContent")]) == 3  # retried

    prep.gemini.recover()
    fresh = (await get_prep(prep, session_id, auth(family.coach.id))).json()
    await add_notes(pool, family, [("session", "Read two pages fluently today.")])
    prep.gemini.outage(500)
    stale = await get_prep(prep, session_id, auth(family.coach.id))
    assert stale.status_code == 200 and stale.json() == fresh | {"stale": True}


async def test_a_refusing_model_fails_fast(prep: Prep, pool: asyncpg.Pool) -> None:
    family, session_id, _ = await future_session(pool)
    prep.gemini.fail_next(1, 400)
    answer = await get_prep(prep, session_id, auth(family.coach.id))
    assert answer.status_code == 503
    assert len([r for r in prep.gemini.request_log if r.path.endswith(":generateContent")]) == 1  # no retry


async def test_an_unusable_answer_is_asked_for_once_more_then_reported(prep: Prep, pool: asyncpg.Pool) -> None:
    family, session_id, _ = await future_session(pool)
    prep.gemini.answers.extend(["{not json", '{"challenges": []}'])  # invalid, then valid JSON but no brief
    answer = await get_prep(prep, session_id, auth(family.coach.id))
    assert answer.status_code == 503 and answer.json()["error"] == "brief_unavailable"
    assert prep.gemini.generate_calls == 2  # one retry inside the provider; Temporal does not retry a refusal
    assert await pool.fetchval("SELECT count(*) FROM session_briefs WHERE session_id = $1", session_id) == 0


async def test_a_finished_session_gets_its_brief_from_a_one_off_workflow(prep: Prep, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    await add_notes(pool, family, NOTES)
    [session_id] = await make_sessions(pool, family, [now_utc() - timedelta(days=2)], statuses=["completed"])
    # The test client skips time while it waits on a workflow result; a real server does not.
    with prep.env.auto_time_skipping_disabled():
        answers = await asyncio.gather(*(get_prep(prep, session_id, auth(family.coach.id)) for _ in range(3)))
    assert [a.status_code for a in answers] == [200] * 3
    assert prep.gemini.generate_calls == 1


async def test_a_session_whose_workflow_was_closed_from_outside_still_gets_its_brief(
    prep: Prep, pool: asyncpg.Pool
) -> None:
    """A lifecycle workflow terminated (or timed out: schemathesis met one, rescheduled years ahead)
    while its row is open: the brief ran into "already exists" and answered 503 for good."""
    family, session_id, _ = await future_session(pool)
    assert (await get_prep(prep, session_id, auth(family.coach.id))).status_code == 200  # starts the workflow
    await pool.execute("DELETE FROM session_briefs WHERE session_id = $1", session_id)  # none stored
    await prep.env.client.get_workflow_handle(session_workflow_id(session_id)).terminate("by an operator")
    with prep.env.auto_time_skipping_disabled():
        answer = await get_prep(prep, session_id, auth(family.coach.id))
    assert answer.status_code == 200, answer.text
    assert answer.json()["stale"] is False


async def test_an_empty_record_gets_a_plain_brief_without_a_model_call(prep: Prep, pool: asyncpg.Pool) -> None:
    family, session_id, _ = await future_session(pool, notes=[])
    answer = await get_prep(prep, session_id, auth(family.coach.id))
    assert answer.status_code == 200
    brief = answer.json()
    assert brief["sources"] == [] and brief["challenges"] == [] and brief["model"] == "none"
    assert "No learning events" in brief["session_focus"]["text"] and prep.gemini.generate_calls == 0


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({"sessionId": "not-a-uuid"}, "coach", 422),
        ({}, "coach", 422),
        ({"sessionId": "SELF"}, "other", 404),
        ({"sessionId": str(uuid4())}, "coach", 404),
        ({"sessionId": "SELF"}, "bad", 401),
        ({"sessionId": "SELF"}, "none", 401),
        ({"sessionId": "SELF\x00"}, "coach", 422),
    ],
)
async def test_refusals(prep: Prep, pool: asyncpg.Pool, params: dict[str, str], headers: str, status: int) -> None:
    family, session_id, _ = await future_session(pool)
    stranger = await make_family(pool)
    params = {k: v.replace("SELF", str(session_id)) for k, v in params.items()}
    chosen: dict[str, Any] = {
        "coach": auth(family.coach.id),
        "other": auth(stranger.coach.id),
        "bad": {"Authorization": "Bearer nope"},
        "none": {},
    }[headers]
    answer = await prep.http.get("/api/coach/session-prep", params=params, headers=chosen)
    assert answer.status_code == status, answer.text
    assert {"error", "detail"} <= set(answer.json())
    assert prep.gemini.generate_calls == 0


async def test_openapi_declares_every_status_with_its_body(prep: Prep) -> None:
    spec = (await prep.http.get("/openapi.json")).json()
    operation = spec["paths"]["/api/coach/session-prep"]["get"]
    assert set(operation["responses"]) == {"200", "401", "404", "422", "500", "503"}
    for status in ("401", "404", "422", "503"):
        for code in codes_of(spec, operation["responses"][status]):
            body = spec["components"]["schemas"][model_name(code)]
            assert body["required"][:2] == ["error", "detail"], code
    assert codes_of(spec, operation["responses"]["503"]) == {"brief_unavailable", "service_unavailable"}
    item = spec["components"]["schemas"]["BriefItem"]["properties"]
    assert set(item) == {"text", "event_ids"}


async def test_the_prompt_names_the_child_by_first_name_and_carries_no_contact_details(
    prep: Prep, pool: asyncpg.Pool
) -> None:
    """Issue 22: no surname, phone number or email reaches Gemini, even where a note quotes them."""
    family = await make_family(pool)
    email = f"iyer.family.{uuid4().hex[:6]}@example.org"
    quoted = "+9196" + str(uuid4().int)[:8]
    await pool.execute("UPDATE children SET name = 'Aarav Iyer' WHERE id = $1", family.child.id)
    await pool.execute("UPDATE parents SET email = $2 WHERE id = $1", family.parent.id, email)
    national = family.parent.phone.removeprefix("+91")
    await add_notes(
        pool,
        family,
        [
            ("session", f"Aarav Iyer struggled with blends; his mother ({email}) asks for a call on {quoted}."),
            ("session", f"Mrs Iyer says Aarav reads at home; reach her on {family.parent.phone} or {national}."),
            ("assessment", f"Fluency check: 48 words per minute; the parent, {family.parent.name}, sat in."),
        ],
    )
    [session_id] = await make_sessions(pool, family, [now_utc() + timedelta(days=30)])

    answer = await get_prep(prep, session_id, auth(family.coach.id))
    assert answer.status_code == 200, answer.text
    [body] = prep.gemini.prompts
    text = body["contents"][0]["parts"][0]["text"]
    assert prompt_of(body)["child"] == {"first_name": "Aarav", "age": family.child.age}
    assert "Aarav" in text and "blends" in text  # the notes are there, masked where they must be
    for withheld in ("Iyer", email, quoted, quoted[1:], family.parent.phone, family.parent.phone[1:], national):
        assert withheld not in text, withheld
    assert family.parent.name not in text
