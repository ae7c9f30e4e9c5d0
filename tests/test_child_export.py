"""GET /api/children/{id}/export: everything held about one child, as stored, and nothing of another's."""

import json
import secrets
from uuid import uuid4

import asyncpg

from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, Stack, auth


async def _planted_family(stack: Stack, pool: asyncpg.Pool) -> tuple[Family, dict[str, str]]:
    family = await make_family(pool)
    planted = {name: f"{name}-{secrets.token_hex(5)}" for name in ("notes", "parent_message", "homework", "event")}
    (session_id,) = await make_sessions(pool, family, [now_utc() - hours(1)])
    done = await stack.http.post(
        "/api/sessions/complete",
        headers=auth(family.coach.id),
        json={
            "sessionId": str(session_id),
            "notes": planted["notes"],
            "parentMessage": planted["parent_message"],
        },
    )
    assert done.status_code == 200, done.text
    for path, body in (
        ("/api/homework", {"childId": str(family.child.id), "title": planted["homework"]}),
        ("/api/assessments", {"childId": str(family.child.id), "kind": "phonics", "score": 61}),
    ):
        created = await stack.http.post(path, headers=auth(family.coach.id), json=body)
        assert created.status_code == 201, created.text
    event = await stack.http.post(
        "/api/learning-events",
        headers=auth(family.coach.id),
        json={"childId": str(family.child.id), "eventType": "quiz", "content": planted["event"]},
    )
    assert event.status_code == 201, event.text
    return family, planted


async def test_the_export_holds_the_whole_record_and_nothing_of_another_child(stack: Stack, pool: asyncpg.Pool) -> None:
    family, planted = await _planted_family(stack, pool)
    other, others_planted = await _planted_family(stack, pool)
    answer = await stack.http.get(f"/api/children/{family.child.id}/export", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    record = answer.json()
    text = json.dumps(record)
    assert record["child"]["name"] == family.child.name
    assert record["parent"]["phone"] == family.parent.phone
    for value in planted.values():
        assert value in text, value
    assert [s["status"] for s in record["sessions"]] == ["completed"]
    assert {e["event_type"] for e in record["learning_events"]} >= {"quiz", "session_completed"}
    assert not any("embedding" in e or "search_vector" in e for e in record["learning_events"])
    assert [a["score"] for a in record["assessments"]] == [61]
    assert [h["title"] for h in record["homework"]] == [planted["homework"]]
    for value in (*others_planted.values(), other.child.name, other.parent.phone):
        assert value not in text, value


async def test_only_an_admin_exports_and_a_missing_child_is_404(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    path = f"/api/children/{family.child.id}/export"
    assert (await stack.http.get(path)).status_code == 401
    assert (await stack.http.get(path, headers=auth(family.coach.id))).status_code == 403
    missing = await stack.http.get(f"/api/children/{uuid4()}/export", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
