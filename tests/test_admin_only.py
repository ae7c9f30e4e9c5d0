"""A coach gets 403 on every admin endpoint and page, and nothing changes. The admin endpoints are read from
the OpenAPI document (every operation that declares ``forbidden``), so a new admin route is covered the
day it is added; each is called with a coach's token and placeholder ids."""

import re
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from api.app import create_app
from coach_sessions.settings import Settings
from tests.factories import make_family
from tests.helpers import Stack, auth

# Operations that declare 403 for a reason other than "admins only" (a coach may call them).
NOT_ADMIN_ONLY = {
    ("POST", "/api/sessions/request-cancel"),  # coach-only: an admin is the one refused
    ("POST", "/api/sessions/message-preview"),  # a coach previews their own actions; 403 for the admin's ones
}
PAGES = ("/coach/desk", "/coach/desk/people")


def _admin_operations() -> list[tuple[str, str]]:
    document = create_app(Settings(app_env="test", auth_jwt_secret="x" * 40)).openapi()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            forbidden = operation.get("responses", {}).get("403", {})
            refs = str(forbidden.get("content", {}))
            if "ForbiddenError" in refs and (method.upper(), path) not in NOT_ADMIN_ONLY:
                found.append((method.upper(), path))
    return sorted(found)


ADMIN_OPERATIONS = _admin_operations()


def test_the_admin_operations_are_found() -> None:
    paths = {path for _, path in ADMIN_OPERATIONS}
    assert {"/api/ops/queue", "/api/enrollments/{enrollment_id}/end", "/api/children/{child_id}/reassign"} <= paths
    assert len(ADMIN_OPERATIONS) >= 25, ADMIN_OPERATIONS


async def _counts(pool: asyncpg.Pool) -> dict[str, Any]:
    tables = ("coaches", "parents", "children", "enrollments", "reassignments", "ops_actions", "child_erasures")
    return {t: await pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables}


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS, ids=[f"{m} {p}" for m, p in ADMIN_OPERATIONS])
async def test_a_coach_is_forbidden(stack: Stack, pool: asyncpg.Pool, method: str, path: str) -> None:
    family = await make_family(pool)
    ids = {"child_id": family.child.id, "parent_id": family.parent.id, "coach_id": family.coach.id}
    url = re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), uuid4())), path)
    before = await _counts(pool)
    answer = await stack.http.request(
        method, url, headers=auth(family.coach.id), json={} if method in ("POST", "PATCH") else None
    )
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden", (method, url, answer.text)
    assert await _counts(pool) == before


@pytest.mark.parametrize("path", PAGES)
async def test_a_coach_gets_403_pages(stack: Stack, pool: asyncpg.Pool, path: str) -> None:
    from tests.sign_in_support import page_client, sign_in

    family = await make_family(pool)
    async with page_client(stack.http) as client:
        await sign_in(client, family.coach.id)
        answer = await client.get(path)
    assert answer.status_code == 403 and "Admins only" in answer.text
