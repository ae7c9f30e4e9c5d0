"""GET /api/sessions/{session_id} (issue 19): one session, always the same shape ({"session": …}), with
the same 404 for another coach's session as for a missing one."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.routes.sessions import SIBLING_PATHS
from coach_sessions.settings import Settings
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, api_client, auth


@pytest.fixture
async def http(pool: asyncpg.Pool, temporal_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(pool, temporal_env.client, "no-worker-needed") as client:  # a read sends no update
        yield client


async def test_a_coach_reads_their_session_in_the_one_session_shape(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(30)])
    response = await http.get(f"/api/sessions/{session_id}", headers=auth(family.coach.id))
    assert response.status_code == 200, response.text
    assert list(response.json()) == ["session"]
    assert response.json()["session"]["id"] == str(session_id)
    by_query = await http.get("/api/sessions", params={"sessionId": str(session_id)}, headers=auth(family.coach.id))
    assert response.json() == by_query.json()


async def test_another_coachs_session_is_the_same_404_as_a_missing_one(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    family, other = await make_family(pool), await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(30)])
    foreign = await http.get(f"/api/sessions/{session_id}", headers=auth(other.coach.id))
    missing = await http.get(f"/api/sessions/{uuid4()}", headers=auth(other.coach.id))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json() == {"error": "session_not_found", "detail": missing.json()["detail"]}
    by_query = await http.get("/api/sessions", params={"sessionId": str(session_id)}, headers=auth(other.coach.id))
    assert foreign.json() == by_query.json()


async def test_an_admin_reads_any_coachs_session(http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(2)])
    response = await http.get(f"/api/sessions/{session_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["session"]["coach_id"] == str(family.coach.id)


@pytest.mark.parametrize("session_id", ["not-a-uuid", "123", "%00", "a%00b", "x" * 5000, "%E2%80%AE", "0" * 31])
async def test_an_id_that_is_not_a_uuid_is_422(http: httpx.AsyncClient, pool: asyncpg.Pool, session_id: str) -> None:
    response = await http.get(f"/api/sessions/{session_id}", headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert [f["field"] for f in response.json()["fields"]] == ["session_id"]


async def test_without_a_token_it_is_401_before_anything_about_the_id(http: httpx.AsyncClient) -> None:
    for session_id in (str(uuid4()), "not-a-uuid"):
        assert (await http.get(f"/api/sessions/{session_id}")).status_code in (401, 422)
    assert (await http.get(f"/api/sessions/{uuid4()}")).status_code == 401


@pytest.mark.parametrize("name", ["complete", "missed", "request-cancel", "withdraw-cancel", "decide-cancel"])
async def test_the_action_paths_still_answer_405_to_a_get(http: httpx.AsyncClient, name: str) -> None:
    """A GET on /api/sessions/complete must not be read as a session id (it was 405 and stays 405)."""
    response = await http.get(f"/api/sessions/{name}", headers=ADMIN)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"


def test_every_literal_path_next_to_the_read_route_is_kept_out_of_it() -> None:
    paths = create_app(Settings(app_env="test", auth_jwt_secret="x" * 40)).openapi()["paths"]
    siblings = {p.removeprefix("/api/sessions/") for p in paths if p.startswith("/api/sessions/") and "{" not in p}
    assert siblings == set(SIBLING_PATHS)


async def test_available_slots_is_still_its_own_route(http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(30)])
    day = (now_utc() + hours(48)).date().isoformat()
    response = await http.get(
        "/api/sessions/available-slots", params={"sessionId": str(session_id), "date": day}, headers=ADMIN
    )
    assert response.status_code == 200, response.text


async def test_ten_concurrent_reads_all_answer_the_same(http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(30)])
    answers = await asyncio.gather(
        *(http.get(f"/api/sessions/{session_id}", headers=auth(family.coach.id)) for _ in range(10))
    )
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1


def test_the_openapi_document_lists_it_with_its_errors() -> None:
    document: dict[str, Any] = create_app(Settings(app_env="test", auth_jwt_secret="x" * 40)).openapi()
    operation = document["paths"]["/api/sessions/{session_id}"]["get"]
    [parameter] = operation["parameters"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == ("session_id", "path", True)
    assert parameter["schema"]["format"] == "uuid"
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SessionEnvelope"
    }
    assert sorted(operation["responses"]) == ["200", "401", "404", "422", "500", "503"]
    # The 404 names session_not_found, inline (an enum) or as its shared error component.
    not_found = json.dumps(operation["responses"]["404"])
    assert '"session_not_found"' in not_found or "/SessionNotFoundError" in not_found, not_found
