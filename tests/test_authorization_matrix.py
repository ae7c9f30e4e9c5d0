"""Every endpoint x {no token, expired, alg none, wrong key, nobody's subject, a role the row does not have,
a forged or ended session cookie, wrong role, another coach's ids}, called with a bearer token and with a
page's session cookie: the documented 401 / 403 / 404, with one body for every 401 and one for "not yours"
and "missing", a cookie's unsafe request without its CSRF token refused, and nothing changed by a refused call."""

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import jwt
import pytest

from coach_sessions.statuses import Role
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN_ID, Stack, auth, token_for
from tests.sign_in_support import ORIGIN, page_client, sign_in


@dataclass
class Ids:
    session: UUID  # a started session (complete / missed are possible)
    future: UUID  # a session in 3 days (reschedule / cancel are possible)
    child: UUID
    parent: UUID
    coach: UUID


Request = Callable[[Ids], dict[str, Any]]
_DAY = (date.today() + timedelta(days=20)).isoformat()

# (method, path, request for given ids, who may call it)
ENDPOINTS: list[tuple[str, str, Request, str]] = [
    ("GET", "/api/sessions", lambda i: {"params": {"sessionId": str(i.session)}}, "coach"),
    ("GET", "/api/sessions", lambda i: {"params": {"childId": str(i.child)}}, "coach"),
    ("GET", "/api/sessions/{session}", lambda i: {}, "coach"),  # the path takes the ids: see _url
    ("POST", "/api/sessions/complete", lambda i: {"json": {"sessionId": str(i.session)}}, "coach"),
    ("POST", "/api/sessions/missed", lambda i: {"json": {"sessionId": str(i.session)}}, "coach"),
    (
        "PATCH",
        "/api/sessions",
        lambda i: {"json": {"sessionId": str(i.future), "newDate": _DAY, "newTime": "10:00"}},
        "coach",
    ),
    ("DELETE", "/api/sessions", lambda i: {"params": {"sessionId": str(i.future), "reason": "Family trip"}}, "admin"),
    (
        "POST",
        "/api/sessions/request-cancel",
        lambda i: {"json": {"sessionId": str(i.future), "reason": "Coach unwell"}},
        "coach-only",
    ),
    ("POST", "/api/sessions/withdraw-cancel", lambda i: {"json": {"sessionId": str(i.future)}}, "coach"),
    (
        "POST",
        "/api/sessions/decide-cancel",
        lambda i: {"json": {"sessionId": str(i.future), "decision": "approve"}},
        "admin",
    ),
    ("POST", "/api/coaches", lambda i: {"json": {"name": "Asha", "email": f"{uuid4().hex}@example.org"}}, "admin"),
    ("POST", "/api/parents", lambda i: {"json": {"name": "Ravi", "phone": "+9199" + str(uuid4().int)[:8]}}, "admin"),
    (
        "POST",
        "/api/children",
        lambda i: {"json": {"name": "Mia", "age": 7, "parentId": str(i.parent), "coachId": str(i.coach)}},
        "admin",
    ),
    ("GET", "/api/coach/children", lambda i: {}, "coach"),
    ("POST", "/api/parents/{parent}/family-link", lambda i: {}, "admin"),
    ("GET", "/api/ops/queue", lambda i: {}, "admin"),
    ("GET", "/api/ops/cancellation-requests", lambda i: {}, "admin"),
    ("GET", "/api/ops/actions", lambda i: {"params": {"limit": 5}}, "admin"),
    ("POST", "/api/parents/{parent}/family-link/replace", lambda i: {}, "admin"),
    (
        "POST",
        "/api/enrollments",
        lambda i: {
            "json": {
                "childId": str(i.child),
                "coachId": str(i.coach),
                "startDate": _DAY,
                "sessionTime": "17:00",
                "weekdays": ["mon"],
                "sessionCount": 1,
            }
        },
        "admin",
    ),
]
IDS = [f"{method} {path} {sorted(request(Ids(*(uuid4(),) * 5)))}" for method, path, request, _ in ENDPOINTS]


def _url(path: str, ids: Ids) -> str:
    return path.format(session=ids.session, parent=ids.parent)


def _unsigned(claims: dict[str, Any]) -> str:
    part = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _bad_tokens(subject: UUID) -> dict[str, dict[str, str]]:
    claims = {"sub": str(subject), "role": "admin", "exp": 4102444800}
    return {
        "none": {},
        "expired": {"Authorization": f"Bearer {token_for(subject, Role.ADMIN, ttl=timedelta(seconds=-5))}"},
        "alg none": {"Authorization": f"Bearer {_unsigned(claims)}"},
        "wrong key": {"Authorization": f"Bearer {jwt.encode(claims, 'another-key-' + 'z' * 40, algorithm='HS256')}"},
        "nobody's subject": auth(uuid4()),  # signed with the right key, but no coach has this id
        "a coach claiming admin": auth(subject, Role.ADMIN),  # the row is a coach's: the claim does not make an admin
        "an admin claiming coach": auth(ADMIN_ID, Role.COACH),
        "a forged session cookie": {"Cookie": "__Host-coach_session=" + "A" * 43, "Origin": ORIGIN},
    }


Call = Callable[..., Awaitable[httpx.Response]]


@asynccontextmanager
async def _caller(stack: Stack, kind: str, subject: UUID, role: Role = Role.COACH) -> AsyncIterator[Call]:
    """Requests as ``subject``: with a bearer token, or as a signed-in page does (cookie + CSRF token)."""
    if kind == "bearer":

        async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
            return await stack.http.request(method, url, headers=auth(subject, role), **kwargs)

        yield call
        return
    async with page_client(stack.http) as client:
        await sign_in(client, subject, role)
        yield client.request


async def _family_with_sessions(pool: asyncpg.Pool) -> tuple[Family, Ids]:
    family = await make_family(pool)
    started, future = await make_sessions(pool, family, [now_utc() - hours(1), now_utc() + hours(72)])
    return family, Ids(started, future, family.child.id, family.parent.id, family.coach.id)


async def _snapshot(pool: asyncpg.Pool) -> tuple[int, ...]:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM coaches), (SELECT count(*) FROM parents), (SELECT count(*) FROM children),"
        " (SELECT count(*) FROM enrollments), (SELECT count(*) FROM learning_events),"
        " (SELECT coalesce(sum(version), 0) FROM scheduled_sessions)"
    )
    return tuple(row)


@pytest.mark.parametrize("kind", ["bearer", "cookie"])
@pytest.mark.parametrize(("method", "path", "request_for", "who"), ENDPOINTS, ids=IDS)
async def test_the_authorization_matrix(
    stack: Stack, pool: asyncpg.Pool, kind: str, method: str, path: str, request_for: Request, who: str
) -> None:
    family, ids = await _family_with_sessions(pool)
    other_coach = (await make_family(pool)).coach.id
    before = await _snapshot(pool)
    url = _url(path, ids)

    # 401, one body, whatever is wrong with the token or the cookie
    bodies = set()
    for case, headers in _bad_tokens(family.coach.id).items():
        response = await stack.http.request(method, url, headers=headers, **request_for(ids))
        assert response.status_code == 401, (case, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        bodies.add(response.text)
    assert len(bodies) == 1 and json.loads(bodies.pop())["error"] == "unauthorized"

    # 403 for the wrong role
    if who == "admin":
        async with _caller(stack, kind, family.coach.id) as call:
            response = await call(method, url, **request_for(ids))
        assert response.status_code == 403, response.text  # forbidden (DELETE: parent_consent_required)
    if who == "coach-only":
        async with _caller(stack, kind, ADMIN_ID, Role.ADMIN) as call:
            response = await call(method, url, **request_for(ids))
        assert response.status_code == 403 and response.json()["error"] == "forbidden", response.text

    # another coach's ids: the same 404 as ids that do not exist
    if path.startswith("/api/sessions") and (who != "admin" or method == "DELETE"):  # admin-only: 403 first
        missing_ids = Ids(uuid4(), uuid4(), uuid4(), uuid4(), uuid4())
        async with _caller(stack, kind, other_coach) as call:
            foreign = await call(method, url, **request_for(ids))
            missing = await call(method, _url(path, missing_ids), **request_for(missing_ids))
        assert foreign.status_code == missing.status_code == 404, (foreign.text, missing.text)
        assert foreign.json() == missing.json()

    # a signed-in page's unsafe request needs its CSRF token, and the page's own origin
    if kind == "cookie" and method != "GET":
        caller = ADMIN_ID if who == "admin" else family.coach.id
        async with page_client(stack.http) as client:
            await sign_in(client, caller, Role.ADMIN if who == "admin" else Role.COACH)
            csrf = client.headers.pop("X-CSRF-Token")
            for headers in ({}, {"X-CSRF-Token": "x" * 43}, {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}):
                response = await client.request(method, url, headers=headers, **request_for(ids))
                assert response.status_code == 403 and response.json()["error"] == "csrf_failed", response.text

    assert await _snapshot(pool) == before


async def test_a_coach_sees_only_their_own_children_whatever_coach_id_they_pass(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    mine, _ = await _family_with_sessions(pool)
    theirs, _ = await _family_with_sessions(pool)
    response = await stack.http.get(
        "/api/coach/children", headers=auth(mine.coach.id), params={"coachId": str(theirs.coach.id)}
    )
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["children"]] == [str(mine.child.id)]
