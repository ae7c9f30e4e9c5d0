"""DELETE /api/children/{id}: the child's erasure (docs/security.md, "Erasure").

A family is filled through the API (completed and future sessions, notes, a parent message, a
cancellation reason, homework, a learning event, a parent's reply), erased, and then every text and
JSON column of every table is scanned for what was planted: nothing of it is left, another family's
record is whole, the sessions stay (number, date, status), their workflows and calendar events are gone.
"""

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.erasure import ErasureActivities
from coach_sessions.contracts import ErasureStepInput, ErasureStepResult
from coach_sessions.repositories.erasures import ErasureRepository
from coach_sessions.temporal import child_erasure_workflow_id, enrollment_workflow_id, session_workflow_id
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.fakes.aisensy import FakeAiSensy
from tests.fakes.google_calendar import FakeGoogleCalendar
from tests.helpers import ADMIN, Stack, api_client, auth, eventually, fake_providers, running_worker

_SCANNED_TYPES = ("text", "character varying", "json", "jsonb")


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


async def _post(stack: Stack, path: str, who: dict[str, str], body: dict[str, Any], status: int = 200) -> Any:
    response = await stack.http.post(path, headers=who, json=body)
    assert response.status_code == status, response.text
    return response.json()


async def _planted_family(stack: Stack, pool: asyncpg.Pool) -> tuple[Family, dict[str, str], list[UUID]]:
    """A family enrolled through the API, its record filled with unique strings; and its sessions."""
    family = await make_family(pool)
    tag = secrets.token_hex(4)
    planted = {
        "child": f"Kidname{tag}",
        "parent": f"Parentname{tag}",
        "phone": "+9196" + _digits(8),
        "email": f"parent{tag}@example.org",
        "notes": f"notes-{tag}",
        "parent_message": f"parentmessage-{tag}",
        "reason": f"reason-{tag}",
        "homework": f"homework-{tag}",
        "event": f"event-{tag}",
        "reply": f"reply-{tag}",
    }
    await pool.execute("UPDATE children SET name = $2 WHERE id = $1", family.child.id, planted["child"])
    await pool.execute(
        "UPDATE parents SET name = $2, phone = $3, email = $4 WHERE id = $1",
        family.parent.id,
        planted["parent"],
        planted["phone"],
        planted["email"],
    )
    answer = await _post(
        stack,
        "/api/enrollments",
        ADMIN,
        {
            "childId": str(family.child.id),
            "coachId": str(family.coach.id),
            "startDate": (now_utc() - timedelta(days=2)).date().isoformat(),
            "sessionTime": "17:00",
            "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "sessionCount": 6,
        },
        status=201,
    )
    await stack.env.client.get_workflow_handle(enrollment_workflow_id(answer["enrollment"]["id"])).result()
    rows = await pool.fetch(
        "SELECT id, scheduled_at FROM scheduled_sessions WHERE child_id = $1 ORDER BY session_number", family.child.id
    )
    sessions = [r["id"] for r in rows]

    async def synced() -> bool:
        return not await pool.fetchval(
            "SELECT count(*) FROM scheduled_sessions WHERE child_id = $1 AND google_event_id IS NULL", family.child.id
        )

    await eventually(synced)
    events = {
        r["google_event_id"]
        for r in await pool.fetch("SELECT google_event_id FROM scheduled_sessions WHERE child_id = $1", family.child.id)
    }
    assert events <= {event_id for _, event_id in stack.calendar.live_events()}  # on the calendar now
    past = [r["id"] for r in rows if r["scheduled_at"] < now_utc()]
    body = {"sessionId": str(past[0]), "notes": planted["notes"], "parentMessage": planted["parent_message"]}
    await _post(stack, "/api/sessions/complete", auth(family.coach.id), body)
    future = [r["id"] for r in rows if r["scheduled_at"] > now_utc() + timedelta(days=2)]
    body = {"sessionId": str(future[0]), "reason": planted["reason"]}
    await _post(stack, "/api/sessions/request-cancel", auth(family.coach.id), body, status=202)
    await _post(
        stack,
        "/api/homework",
        auth(family.coach.id),
        {"childId": str(family.child.id), "title": planted["homework"]},
        status=201,
    )
    await _post(
        stack,
        "/api/learning-events",
        auth(family.coach.id),
        {"childId": str(family.child.id), "eventType": "quiz", "content": planted["event"]},
        status=201,
    )
    # A parent's reply as the webhook stores it (its body holds the number and the text).
    await pool.execute(
        "INSERT INTO inbound_messages (provider_message_id, from_phone, button_text, matched_session_id, outcome,"
        " payload) VALUES ($1, $2, $3, $4, 'ignored', $5::jsonb)",
        f"wamid.{uuid4().hex}",
        planted["phone"],
        planted["reply"],
        future[0],
        json.dumps({"from": planted["phone"], "text": planted["reply"]}),
    )
    return family, planted, sessions


async def _where_found(pool: asyncpg.Pool, values: list[str]) -> dict[str, list[str]]:
    """Each value → the ``table.column`` holding it, over every text and JSON column of the schema."""
    columns = await pool.fetch(
        "SELECT table_name, column_name FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.data_type = ANY($1::text[])",
        list(_SCANNED_TYPES),
    )
    assert len(columns) > 40, columns  # the scan sees the schema (a broken query would find nothing)
    found: dict[str, list[str]] = {value: [] for value in values}
    patterns = [f"%{value}%" for value in values]
    for column in columns:
        table, name = column["table_name"], column["column_name"]
        texts = await pool.fetch(
            f'SELECT "{name}"::text AS v FROM "{table}" WHERE "{name}"::text LIKE ANY($1::text[])', patterns
        )
        for row in texts:
            for value in values:
                if value in row["v"]:
                    found[value].append(f"{table}.{name}")
    return found


async def _erase(stack: Stack, child_id: UUID) -> dict[str, Any]:
    answer = await stack.http.delete(f"/api/children/{child_id}", headers=ADMIN)
    assert answer.status_code == 202, answer.text
    await stack.env.client.get_workflow_handle(child_erasure_workflow_id(child_id)).result()
    return answer.json()


async def _assert_erased(
    stack: Stack, pool: asyncpg.Pool, family: Family, planted: dict[str, str], sessions: list[UUID]
) -> None:
    found = await _where_found(pool, list(planted.values()))
    assert {value: where for value, where in found.items() if where} == {}
    rows = await pool.fetch(
        "SELECT session_number, scheduled_at, status, duration_minutes, coach_notes, cancellation_reason,"
        " google_event_id FROM scheduled_sessions WHERE child_id = $1 ORDER BY session_number",
        family.child.id,
    )
    assert [r["session_number"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert {r["status"] for r in rows} == {"completed", "cancelled"}  # what had not happened will not
    # an action on a session that had not happened is refused as for any finished one, starting nothing
    future = sessions[-1]
    refused = await stack.http.post(
        "/api/sessions/missed", headers=auth(family.coach.id), json={"sessionId": str(future)}
    )
    assert refused.status_code == 409 and refused.json()["current_status"] == "cancelled", refused.text
    described = await stack.env.client.get_workflow_handle(session_workflow_id(future)).describe()
    assert described.status != WorkflowExecutionStatus.RUNNING
    assert all(r["scheduled_at"] and r["duration_minutes"] == 45 and r["coach_notes"] is None for r in rows)
    assert await pool.fetchval("SELECT name FROM children WHERE id = $1", family.child.id) == "Erased child"
    for session_id in sessions:
        described = await stack.env.client.get_workflow_handle(session_workflow_id(session_id)).describe()
        assert described.status != WorkflowExecutionStatus.RUNNING, session_id
    live = {event_id for _, event_id in stack.calendar.live_events()}
    assert not live & {r["google_event_id"] for r in rows}
    erasure = await pool.fetchrow("SELECT * FROM child_erasures WHERE child_id = $1", family.child.id)
    assert erasure["completed_at"] is not None and erasure["requested_by"] is not None


async def test_erasing_a_child_leaves_nothing_of_it_and_all_of_another(stack: Stack, pool: asyncpg.Pool) -> None:
    family, planted, sessions = await _planted_family(stack, pool)
    other, others_planted, _ = await _planted_family(stack, pool)
    before = await _where_found(pool, list(planted.values()))
    assert all(before.values()), before  # each string was planted somewhere

    answer = await _erase(stack, family.child.id)
    assert answer["child_id"] == str(family.child.id) and answer["status"] == "under_way"

    await _assert_erased(stack, pool, family, planted, sessions)
    others = await _where_found(pool, list(others_planted.values()))
    assert {value: where for value, where in others.items() if not where} == {}
    assert await pool.fetchval("SELECT name FROM children WHERE id = $1", other.child.id) == others_planted["child"]

    again = await stack.http.delete(f"/api/children/{family.child.id}", headers=ADMIN)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "done" and again.json()["requested_at"] == answer["requested_at"]


async def test_a_parent_with_another_child_is_kept(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    sibling = await pool.fetchval(
        "INSERT INTO children (name, age, parent_id, coach_id) VALUES ('Sibling', 9, $1, $2) RETURNING id",
        family.parent.id,
        family.coach.id,
    )
    await make_sessions(pool, family, [now_utc() - hours(30)], statuses=["completed"])
    await _erase(stack, family.child.id)
    parent = await pool.fetchrow("SELECT name, phone FROM parents WHERE id = $1", family.parent.id)
    assert (parent["name"], parent["phone"]) == (family.parent.name, family.parent.phone)
    # Erasing the last child erases the parent too: name and number replaced, the number still unique.
    await _erase(stack, sibling)
    parent = await pool.fetchrow("SELECT name, phone, email FROM parents WHERE id = $1", family.parent.id)
    assert parent["name"] == "Erased parent" and parent["phone"].startswith("+999") and parent["email"] is None


async def test_only_an_admin_erases_and_a_missing_child_is_404(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    path = f"/api/children/{family.child.id}"
    assert (await stack.http.delete(path)).status_code == 401
    refused = await stack.http.delete(path, headers=auth(family.coach.id))
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    missing = await stack.http.delete(f"/api/children/{uuid4()}", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert not await pool.fetchval("SELECT count(*) FROM child_erasures WHERE child_id = $1", family.child.id)


async def test_ten_concurrent_deletes_make_one_erasure(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    await make_sessions(
        pool, family, [now_utc() - hours(30), now_utc() + hours(50)], statuses=["completed", "scheduled"]
    )
    path = f"/api/children/{family.child.id}"
    answers = await asyncio.gather(*(stack.http.delete(path, headers=ADMIN) for _ in range(10)))
    assert sorted(a.status_code for a in answers) == [200] * 9 + [202], [a.text for a in answers]
    assert len({a.json()["requested_at"] for a in answers}) == 1
    handle = stack.env.client.get_workflow_handle(child_erasure_workflow_id(family.child.id))
    await handle.result()
    run_id = (await handle.describe()).run_id
    history = await handle.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled == ["record_erasure", "end_child_workflows", "remove_child_calendar_events", "scrub_child"]
    assert await pool.fetchval("SELECT count(*) FROM child_erasures WHERE child_id = $1", family.child.id) == 1
    done = await stack.http.delete(path, headers=ADMIN)
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert (await handle.describe()).run_id == run_id  # a call after completion starts nothing


@asynccontextmanager
async def _stack_with(
    pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    fake_google_calendar: FakeGoogleCalendar,
    fake_aisensy: FakeAiSensy,
    replace: Any,
    **worker_options: Any,
) -> AsyncIterator[Stack]:
    async with fake_providers(fake_google_calendar, fake_aisensy) as (google, whatsapp):
        activities = replace(ErasureActivities(ErasureRepository(pool), google, temporal_env.client))
        async with running_worker(
            temporal_env.client,
            pool,
            calendar=google,
            whatsapp=whatsapp,
            replace_activities=activities,
            **worker_options,
        ) as tq:
            async with api_client(pool, temporal_env.client, tq) as http:
                yield Stack(temporal_env, http, tq, fake_google_calendar, fake_aisensy, google, whatsapp)


async def test_steps_failing_once_midway_still_erase_exactly_once(
    pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    fake_google_calendar: FakeGoogleCalendar,
    fake_aisensy: FakeAiSensy,
) -> None:
    """The calendar step dies after removing the first event; the scrub dies after its commit (the
    worst moment: done, but not reported). Each retry finds its work done or redoes it harmlessly."""
    attempts: dict[str, list[int]] = {"remove_child_calendar_events": [], "scrub_child": []}

    def replace(real: ErasureActivities) -> list[Any]:
        @activity.defn(name="remove_child_calendar_events")
        async def remove_child_calendar_events(request: ErasureStepInput) -> ErasureStepResult:
            attempts["remove_child_calendar_events"].append(activity.info().attempt)
            if activity.info().attempt == 1:
                [first, *_] = await real._erasures.calendar_events(request.child_id)
                await real._calendar.cancel_event(
                    first["calendar_id"] or first["coach_email"], first["google_event_id"], first["coach_email"]
                )
                raise RuntimeError("worker died mid-way")
            return await real.remove_child_calendar_events(request)

        @activity.defn(name="scrub_child")
        async def scrub_child(request: ErasureStepInput) -> ErasureStepResult:
            result = await real.scrub_child(request)
            attempts["scrub_child"].append(activity.info().attempt)
            if activity.info().attempt == 1:
                raise RuntimeError("worker died after the commit")
            return result

        return [remove_child_calendar_events, scrub_child]

    async with _stack_with(pool, temporal_env, fake_google_calendar, fake_aisensy, replace) as stack:
        family, planted, sessions = await _planted_family(stack, pool)
        await _erase(stack, family.child.id)
        assert attempts == {"remove_child_calendar_events": [1, 2], "scrub_child": [1, 2]}
        await _assert_erased(stack, pool, family, planted, sessions)
        rows = await pool.fetch("SELECT completed_at FROM child_erasures WHERE child_id = $1", family.child.id)
        assert len(rows) == 1 and rows[0]["completed_at"] is not None
