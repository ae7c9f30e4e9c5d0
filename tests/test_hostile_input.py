"""Hostile input (issue 8): NUL characters, absurd dates and zones, odd tokens — a documented 4xx, never 500."""

from datetime import date, timedelta
from uuid import UUID, uuid4

import asyncpg
import jwt
import pytest

from coach_sessions.statuses import Role
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, TEST_SECRET, Stack, auth


def _field_refused(response: object, field: str) -> None:
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"] == "validation_error"
    assert field in [f["field"] for f in body["fields"]], body


async def _state(pool: asyncpg.Pool, session_id: UUID) -> tuple[object, ...]:
    row = await pool.fetchrow(
        "SELECT status, version, coach_notes, cancellation_status FROM scheduled_sessions WHERE id = $1", session_id
    )
    return tuple(row)


# ----- item 2: NUL characters -------------------------------------------------------------------

NUL = "Ma\u0000ya"


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/coaches", {"name": NUL, "email": "a@example.org"}, "name"),
        ("/api/coaches", {"name": "Asha", "email": "a\u0000@example.org"}, "email"),
        ("/api/coaches", {"name": "Asha", "email": "a@example.org", "calendarId": "c\u0000al"}, "calendarId"),
        ("/api/coaches", {"name": "Asha", "email": "a@example.org", "timezone": "Asia/Kol\u0000kata"}, "timezone"),
        ("/api/parents", {"name": NUL, "phone": "+919812345678"}, "name"),
    ],
)
async def test_nul_in_a_registration_body_is_422_naming_the_field(
    stack: Stack, url: str, body: dict, field: str
) -> None:
    _field_refused(await stack.http.post(url, headers=ADMIN, json=body), field)


async def test_nul_in_notes_reason_and_query_is_422_and_changes_nothing(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    past, future = await make_sessions(pool, family, [now_utc() - hours(2), now_utc() + hours(72)])
    before = [await _state(pool, past), await _state(pool, future)]
    coach = auth(family.coach.id)
    _field_refused(
        await stack.http.post("/api/sessions/complete", headers=coach, json={"sessionId": str(past), "notes": NUL}),
        "notes",
    )
    _field_refused(
        await stack.http.post(
            "/api/sessions/request-cancel", headers=coach, json={"sessionId": str(future), "reason": "Sick \u0000 day"}
        ),
        "reason",
    )
    _field_refused(
        await stack.http.delete("/api/sessions", headers=ADMIN, params={"sessionId": str(future), "reason": NUL}),
        "reason",
    )
    _field_refused(
        await stack.http.patch(
            "/api/sessions",
            headers=coach,
            json={"sessionId": str(future), "newDate": "2030-01-01", "newTime": "10:00", "reason": NUL},
        ),
        "reason",
    )
    assert [await _state(pool, past), await _state(pool, future)] == before


async def test_nul_in_an_unknown_query_parameter_is_refused_too(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    response = await stack.http.get("/api/coach/children", headers=auth(family.coach.id), params={"q": NUL})
    _field_refused(response, "q")


# ----- item 6: dates and zones at the edge ------------------------------------------------------


async def test_reschedule_to_year_9999_west_of_utc_is_422(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool, timezone="America/Los_Angeles")
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(72)])
    before = await _state(pool, session_id)
    response = await stack.http.patch(
        "/api/sessions",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "newDate": "9999-12-31", "newTime": "23:00"},
    )
    _field_refused(response, "newDate")
    assert await _state(pool, session_id) == before


async def test_reschedule_with_an_offset_time_is_refused_not_dropped(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() + hours(72)])
    day = (date.today() + timedelta(days=10)).isoformat()
    response = await stack.http.patch(
        "/api/sessions",
        headers=auth(family.coach.id),
        json={"sessionId": str(session_id), "newDate": day, "newTime": "10:00+05:30"},
    )
    _field_refused(response, "newTime")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"startDate": "0001-01-01"}, "startDate"),
        ({"startDate": "9999-12-31"}, "startDate"),
        ({"sessionTime": "10:00+05:30"}, "sessionTime"),
        ({"sessionTime": "10:00Z"}, "sessionTime"),
    ],
)
async def test_enrollment_dates_outside_the_window_are_422(
    stack: Stack, pool: asyncpg.Pool, change: dict, field: str
) -> None:
    family = await make_family(pool)
    body = {
        "childId": str(family.child.id),
        "coachId": str(family.coach.id),
        "startDate": (date.today() + timedelta(days=3)).isoformat(),
        "sessionTime": "17:00",
        "weekdays": ["mon"],
        "sessionCount": 2,
    } | change
    _field_refused(await stack.http.post("/api/enrollments", headers=ADMIN, json=body), field)
    assert await pool.fetchval("SELECT count(*) FROM enrollments WHERE child_id = $1", family.child.id) == 0


@pytest.mark.parametrize(
    "zone", ["localtime", "Factory", "right/UTC", "posix/Asia/Kolkata", "../etc/passwd", "EST5EDT "]
)
async def test_only_real_iana_zone_names_are_accepted(stack: Stack, zone: str) -> None:
    body = {"name": "Asha", "email": f"{uuid4().hex}@example.org", "timezone": zone}
    _field_refused(await stack.http.post("/api/coaches", headers=ADMIN, json=body), "timezone")


async def test_a_real_zone_is_still_accepted(stack: Stack) -> None:
    body = {"name": "Asha", "email": f"{uuid4().hex}@example.org", "timezone": "America/Los_Angeles"}
    response = await stack.http.post("/api/coaches", headers=ADMIN, json=body)
    assert response.status_code == 201, response.text


# ----- item 9: a numeric-string exp -------------------------------------------------------------


async def test_a_token_whose_exp_is_a_string_is_401(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    issued = int(now_utc().timestamp())  # portal tokens need iat and live at most AUTH_TOKEN_MAX_TTL (24h)
    claims = {"sub": str(family.coach.id), "role": Role.COACH.value, "iat": issued, "exp": str(issued + 3600)}
    token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    response = await stack.http.get("/api/coach/children", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    good = jwt.encode(claims | {"exp": issued + 3600}, TEST_SECRET, algorithm="HS256")
    assert (await stack.http.get("/api/coach/children", headers={"Authorization": f"Bearer {good}"})).status_code == 200


# ----- malformed JSON and methods: documented codes ---------------------------------------------


@pytest.mark.parametrize("raw", [b'{"name": ', b"\xff\xfe not utf-8", b"[1, 2]"])
async def test_malformed_json_bodies_answer_a_listed_code(stack: Stack, raw: bytes) -> None:
    response = await stack.http.post("/api/parents", headers=ADMIN | {"Content-Type": "application/json"}, content=raw)
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"] in ("malformed_payload", "validation_error")


async def test_405_names_the_allowed_methods(stack: Stack) -> None:
    response = await stack.http.put("/api/sessions", headers=ADMIN)
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    allowed = set(response.headers["Allow"].replace(" ", "").split(","))
    assert {"GET", "PATCH", "DELETE"} <= allowed and not allowed & {"PUT", "POST"}
