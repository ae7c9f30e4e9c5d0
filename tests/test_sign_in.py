"""Page sessions over HTTP: the cookie, CSRF, idle and absolute expiry, Sign out, and the development
ways in (the sign-in page lists people only in development; #token= links are refused in production)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from coach_sessions.statuses import Role
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN_ID, Stack, api_client, auth, token_for
from tests.sign_in_support import ORIGIN, page_client, sign_in

pytestmark = pytest.mark.usefixtures("stack")  # a worker for the stack's task queue (actions need one)


@asynccontextmanager
async def app_in(stack: Stack, pool: asyncpg.Pool, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Another app on the same database and task queue, with other settings (APP_ENV, timeouts)."""
    async with api_client(pool, stack.env.client, stack.task_queue, **overrides) as http:
        async with page_client(http) as client:
            yield client


async def _sessions_of(pool: asyncpg.Pool, coach_id: object) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM sign_in_sessions WHERE coach_id = $1 ORDER BY created_at", coach_id)


async def test_a_session_cookie_is_httponly_secure_lax_and_only_its_digest_is_stored(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    async with page_client(stack.http) as client:
        answer = await client.post(
            "/auth/token", json={"token": token_for(family.coach.id)}, headers={"Origin": ORIGIN}
        )
        assert answer.status_code == 204
        cookie = answer.headers["set-cookie"]
        name, value = cookie.split(";")[0].split("=", 1)
        assert name == "__Host-coach_session"
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "secure", "path=/", "samesite=lax"} <= attributes, attributes
        assert f"max-age={12 * 3600}" in attributes  # SESSION_MAX_AGE
        me = await client.get("/api/me")
        assert me.json() == {"id": str(family.coach.id), "role": "coach", "name": family.coach.name}
    (row,) = await _sessions_of(pool, family.coach.id)
    assert row["signed_in_with"] == "token" and value.encode() not in bytes(row["token_sha256"])
    assert row["expires_at"] - row["created_at"] == timedelta(hours=12)


async def test_sign_out_ends_the_session_on_the_server(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    async with page_client(stack.http) as client:
        cookie = await sign_in(client, family.coach.id)
        csrf = client.headers["X-CSRF-Token"]
        refused = await client.post("/auth/sign-out", content=b"csrf_token=wrong", headers=_FORM)
        assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
        assert (await client.get("/api/me")).status_code == 200  # a wrong token ended nothing
        out = await client.post("/auth/sign-out", content=f"csrf_token={csrf}".encode(), headers=_FORM)
        assert (out.status_code, out.headers["location"]) == (303, "/coach/sign-in?reason=signed_out")
        assert "Max-Age=0" in out.headers["set-cookie"] or "expires=" in out.headers["set-cookie"].lower()
    # the old cookie, kept by someone: refused by the API and by the pages
    async with page_client(stack.http) as replay:
        replay.cookies.set("__Host-coach_session", cookie)
        me = await replay.get("/api/me")
        assert me.status_code == 401 and me.json()["error"] == "unauthorized"
        page = await replay.get("/coach/agenda")
        assert (page.status_code, page.headers["location"]) == (303, "/coach/sign-in?next=/coach/agenda&reason=expired")
    (row,) = await _sessions_of(pool, family.coach.id)
    assert row["ended_at"] is not None


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("column", "shift", "ends"),
    [
        ("last_seen_at", timedelta(hours=2, seconds=1), True),  # idle longer than SESSION_IDLE_TIMEOUT (2h)
        ("last_seen_at", timedelta(hours=1, minutes=59), False),
        ("expires_at", timedelta(hours=12, seconds=1), True),  # past the absolute lifetime, however active
    ],
)
async def test_a_session_ends_when_idle_or_at_its_absolute_expiry(
    stack: Stack, pool: asyncpg.Pool, column: str, shift: timedelta, ends: bool
) -> None:
    family = await make_family(pool)
    async with page_client(stack.http) as client:
        await sign_in(client, family.coach.id)
        moved = "created_at = created_at - $2::interval, expires_at" if column == "expires_at" else column
        await pool.execute(
            f"UPDATE sign_in_sessions SET {moved} = {column} - $2::interval WHERE coach_id = $1",
            family.coach.id,
            shift,
        )
        assert (await client.get("/api/me")).status_code == (401 if ends else 200)


async def test_a_request_restarts_the_idle_clock_at_most_once_a_minute(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    async with page_client(stack.http) as client:
        await sign_in(client, family.coach.id)
        await pool.execute(
            "UPDATE sign_in_sessions SET last_seen_at = now() - interval '30 minutes' WHERE coach_id = $1",
            family.coach.id,
        )
        for _ in range(3):
            assert (await client.get("/api/me")).status_code == 200
        (row,) = await _sessions_of(pool, family.coach.id)
        assert now_utc() - row["last_seen_at"] < timedelta(minutes=1)


async def test_a_cookie_write_without_its_csrf_token_changes_nothing_and_a_bearer_token_needs_none(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    (session_id,) = await make_sessions(pool, family, [now_utc() - hours(1)])
    body = {"sessionId": str(session_id), "notes": "Read well"}
    async with page_client(stack.http) as client:
        await sign_in(client, family.coach.id)
        csrf = client.headers.pop("X-CSRF-Token")
        # a form another site posts: no custom header can come with it, and its origin is not ours
        forged = await client.post(
            "/api/sessions/complete",
            content=b"sessionId=" + str(session_id).encode(),
            headers={**_FORM, "Origin": "https://evil.example"},
        )
        assert forged.status_code == 403 and forged.json()["error"] == "csrf_failed"
        status = await pool.fetchval("SELECT status FROM scheduled_sessions WHERE id = $1", session_id)
        assert status == "scheduled"
        done = await client.post("/api/sessions/complete", json=body, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 200, done.text
    # a bearer token is not sent by a browser on its own: no CSRF token, and it wins over a cookie
    answer = await stack.http.get("/api/me", headers=auth(ADMIN_ID, Role.ADMIN))
    assert answer.json()["role"] == "admin"


async def test_ten_sign_ins_at_once_are_ten_sessions(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    token = token_for(family.coach.id)
    async with page_client(stack.http) as client:
        answers = await asyncio.gather(
            *(client.post("/auth/token", json={"token": token}, headers={"Origin": ORIGIN}) for _ in range(10))
        )
    assert [a.status_code for a in answers] == [204] * 10
    assert len(await _sessions_of(pool, family.coach.id)) == 10


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        ({"json": {"token": "x\u0000y"}}, 401),
        ({"json": {"token": "x" * 5000}}, 422),
        ({"json": {"token": 7}}, 422),
        ({"json": {}}, 422),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json", "Origin": ORIGIN}}, 422),
        ({"json": {"token": "ok"}, "headers": {"Origin": "https://evil.example"}}, 403),
        ({"json": {"token": "ok"}, "headers": {}}, 403),  # a sign-in post must say where it came from
    ],
)
async def test_hostile_token_exchanges_are_refused(
    stack: Stack, pool: asyncpg.Pool, request_kwargs: dict[str, Any], status: int
) -> None:
    before = await pool.fetchval("SELECT count(*) FROM sign_in_sessions")
    request_kwargs.setdefault("headers", {"Origin": ORIGIN})
    async with page_client(stack.http) as client:
        if request_kwargs.get("json", {}).get("token") == "ok":
            request_kwargs["json"] = {"token": token_for((await make_family(pool)).coach.id)}
        answer = await client.post("/auth/token", **request_kwargs)
    assert answer.status_code == status, answer.text
    assert await pool.fetchval("SELECT count(*) FROM sign_in_sessions") == before


async def test_the_development_sign_in_lists_people_and_signs_in_only_in_development(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    form = f"principal={family.coach.id}&role=coach&next=/coach/sessions".encode()
    async with app_in(stack, pool, app_env="development") as dev:
        page = await dev.get("/coach/sign-in")
        assert "Development sign-in" in page.text and family.coach.name in page.text and "Test Admin" in page.text
        assert (await dev.post("/auth/development", content=form, headers=_FORM)).status_code == 403  # no Origin
        answer = await dev.post("/auth/development", content=form, headers={**_FORM, "Origin": ORIGIN})
        assert (answer.status_code, answer.headers["location"]) == (303, "/coach/sessions")
        assert answer.headers["set-cookie"].startswith("coach_session=")  # plain http on localhost: no __Host-
        assert "secure" not in answer.headers["set-cookie"].lower()
        away = await dev.post(
            "/auth/development",
            content=f"principal={family.coach.id}&role=coach&next=//evil.example/x".encode(),
            headers={**_FORM, "Origin": ORIGIN},
        )
        assert away.headers["location"] == "/coach/agenda"  # never off-site
        wrong_role = f"principal={family.coach.id}&role=admin".encode()
        refused = await dev.post("/auth/development", content=wrong_role, headers={**_FORM, "Origin": ORIGIN})
        assert refused.headers["location"] == "/coach/sign-in?reason=failed"
    for env in ("test", "production"):
        async with app_in(stack, pool, app_env=env) as other:
            page = await other.get("/coach/sign-in")
            assert "Development sign-in" not in page.text and family.coach.name not in page.text
            answer = await other.post("/auth/development", content=form, headers={**_FORM, "Origin": ORIGIN})
            assert answer.status_code == 404, env
    assert [r["signed_in_with"] for r in await _sessions_of(pool, family.coach.id)] == ["development"] * 2


async def test_a_token_link_signs_in_except_in_production(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    async with app_in(stack, pool, app_env="production") as production:
        answer = await production.post(
            "/auth/token", json={"token": token_for(family.coach.id)}, headers={"Origin": ORIGIN}
        )
        assert answer.status_code == 404 and "set-cookie" not in answer.headers
    assert await _sessions_of(pool, family.coach.id) == []


async def test_the_sign_in_page_shows_only_its_own_sentences(stack: Stack) -> None:
    page = await stack.http.get("/coach/sign-in", params={"reason": "<script>alert(1)</script>"})
    assert page.status_code == 200 and "alert(1)" not in page.text
    known = await stack.http.get("/coach/sign-in", params={"reason": "unknown_email"})
    assert "coaches or admins" in known.text
    assert 'name="csrf-token"' not in page.text  # a page without a session carries no CSRF token


async def test_signing_in_again_ends_the_session_this_browser_had(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    async with page_client(stack.http) as client:
        first = await sign_in(client, family.coach.id)
        second = await sign_in(client, family.coach.id)
        assert first != second
    rows = await _sessions_of(pool, family.coach.id)
    assert [row["ended_at"] is not None for row in rows] == [True, False]
