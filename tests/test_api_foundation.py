"""The API's foundation: auth, coach isolation on every endpoint, input validation, registration."""

from datetime import timedelta
from uuid import uuid4

import asyncpg
import jwt
import pytest
from temporalio.testing import WorkflowEnvironment

from coach_sessions.statuses import Role
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, TEST_SECRET, api_client, auth, running_worker, token_for


@pytest.fixture
async def http(pool: asyncpg.Pool, temporal_env: WorkflowEnvironment):  # type: ignore[no-untyped-def]
    async with running_worker(temporal_env.client, pool) as task_queue:
        async with api_client(pool, temporal_env.client, task_queue) as client:
            yield client


async def test_health_and_readiness(http) -> None:  # type: ignore[no-untyped-def]
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"postgres": "ok", "temporal": "ok", "worker": "ok"}


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        "Bearer "
        + jwt.encode(
            {"sub": str(uuid4()), "role": "coach", "exp": 4102444800},
            "wrong-secret-" + "y" * 40,
            algorithm="HS256",
        ),
        "Bearer "
        + jwt.encode({"sub": "not-a-uuid", "role": "coach", "exp": 4102444800}, TEST_SECRET, algorithm="HS256"),
        "Bearer "
        + jwt.encode({"sub": str(uuid4()), "role": "parent", "exp": 4102444800}, TEST_SECRET, algorithm="HS256"),
        "Bearer " + jwt.encode({"sub": str(uuid4()), "role": "coach"}, TEST_SECRET, algorithm="HS256"),  # no exp
        "Bearer " + token_for(uuid4(), Role.COACH, ttl=timedelta(seconds=-5)),  # expired
    ],
)
async def test_requests_without_a_valid_token_get_401(http, header: str | None) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": header} if header else {}
    for method, url in (
        ("GET", f"/api/sessions?sessionId={uuid4()}"),
        ("GET", "/api/coach/children"),
        ("POST", "/api/coaches"),
        ("POST", "/api/parents"),
        ("POST", "/api/children"),
        ("POST", "/api/enrollments"),
        ("POST", "/api/sessions/complete"),
        ("POST", "/api/sessions/missed"),
        ("PATCH", "/api/sessions"),
        ("DELETE", f"/api/sessions?sessionId={uuid4()}&reason=trip"),
        ("POST", "/api/sessions/request-cancel"),
        ("POST", "/api/sessions/withdraw-cancel"),
        ("POST", "/api/sessions/decide-cancel"),
    ):
        response = await http.request(method, url, headers=headers, json={})
        assert response.status_code == 401, (method, url, response.text)
        assert response.json()["error"] == "unauthorized"


async def test_coach_sees_only_their_own_sessions_and_children(http, pool: asyncpg.Pool) -> None:  # type: ignore[no-untyped-def]
    mine = await make_family(pool)
    theirs = await make_family(pool)
    my_ids = await make_sessions(
        pool, mine, [now_utc() - hours(30), now_utc() + hours(24)], statuses=["pending", "scheduled"]
    )
    their_ids = await make_sessions(pool, theirs, [now_utc() + hours(24)])
    me = auth(mine.coach.id)

    listed = await http.get(f"/api/sessions?childId={mine.child.id}", headers=me)
    assert listed.status_code == 200
    sessions = listed.json()["sessions"]
    assert [s["id"] for s in sessions] == [str(i) for i in my_ids]
    assert sessions[1]["is_locked"] is True and sessions[1]["lock_reason"]
    assert sessions[0]["can_mark_missed"] is True
    one = await http.get(f"/api/sessions?sessionId={my_ids[0]}", headers=me)
    assert one.json()["session"]["session_number"] == 1

    unknown = await http.get(f"/api/sessions?sessionId={uuid4()}", headers=me)
    other = await http.get(f"/api/sessions?sessionId={their_ids[0]}", headers=me)
    assert unknown.status_code == other.status_code == 404
    assert unknown.json() == other.json()  # indistinguishable from a missing session
    assert (await http.get(f"/api/sessions?childId={theirs.child.id}", headers=me)).status_code == 404
    assert (await http.get(f"/api/sessions?childId={uuid4()}", headers=me)).status_code == 404

    # every action on another coach's session answers the same 404
    for method, url, body in (
        ("POST", "/api/sessions/complete", {"sessionId": str(their_ids[0])}),
        ("POST", "/api/sessions/missed", {"sessionId": str(their_ids[0])}),
        (
            "PATCH",
            "/api/sessions",
            {"sessionId": str(their_ids[0]), "newDate": "2099-01-01", "newTime": "10:00"},
        ),
        ("DELETE", f"/api/sessions?sessionId={their_ids[0]}&reason=family+trip", None),
        ("POST", "/api/sessions/request-cancel", {"sessionId": str(their_ids[0]), "reason": "Coach away"}),
        ("POST", "/api/sessions/withdraw-cancel", {"sessionId": str(their_ids[0])}),
    ):
        response = await http.request(method, url, headers=me, json=body)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["error"] == "session_not_found"

    children = (await http.get("/api/coach/children", headers=me)).json()["children"]
    assert [c["id"] for c in children] == [str(mine.child.id)]
    # a coach cannot widen their view with coachId
    spoof = await http.get(f"/api/coach/children?coachId={theirs.coach.id}", headers=me)
    assert [c["id"] for c in spoof.json()["children"]] == [str(mine.child.id)]
    # the admin sees any coach's children and sessions
    admin_view = await http.get(f"/api/coach/children?coachId={theirs.coach.id}", headers=ADMIN)
    assert [c["id"] for c in admin_view.json()["children"]] == [str(theirs.child.id)]
    assert (await http.get(f"/api/sessions?sessionId={their_ids[0]}", headers=ADMIN)).status_code == 200


async def test_admin_endpoints_refuse_coaches(http, pool: asyncpg.Pool) -> None:  # type: ignore[no-untyped-def]
    family = await make_family(pool)
    coach = auth(family.coach.id)
    for url, body in (
        ("/api/coaches", {"name": "X", "email": "x@example.org"}),
        ("/api/parents", {"name": "X", "phone": "+919812345678"}),
        (
            "/api/children",
            {"name": "X", "age": 7, "parentId": str(family.parent.id), "coachId": str(family.coach.id)},
        ),
        (
            "/api/enrollments",
            {
                "childId": str(family.child.id),
                "coachId": str(family.coach.id),
                "startDate": "2026-01-05",
                "sessionTime": "17:00",
                "weekdays": ["mon"],
                "sessionCount": 2,
            },
        ),
    ):
        response = await http.post(url, headers=coach, json=body)
        assert response.status_code == 403, (url, response.text)
        assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sessionId=abc", "sessionId"),
        ("childId=123", "childId"),
        ("", None),
    ],
)
async def test_session_query_validation(http, pool: asyncpg.Pool, query: str, field: str | None) -> None:  # type: ignore[no-untyped-def]
    family = await make_family(pool)
    response = await http.get(f"/api/sessions?{query}", headers=auth(family.coach.id))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    if field:
        assert field in body["detail"]


async def test_both_query_parameters_is_422(http, pool: asyncpg.Pool) -> None:  # type: ignore[no-untyped-def]
    family = await make_family(pool)
    response = await http.get(f"/api/sessions?sessionId={uuid4()}&childId={uuid4()}", headers=auth(family.coach.id))
    assert response.status_code == 422


async def test_admin_registers_people_and_enrolls_a_child(http) -> None:  # type: ignore[no-untyped-def]
    suffix = uuid4().hex[:8]
    coach = await http.post(
        "/api/coaches",
        headers=ADMIN,
        json={
            "name": "Asha",
            "email": f"asha-{suffix}@example.org",
            "phone": "+919811112222",
            "calendarId": f"asha-{suffix}@example.org",
        },
    )
    assert coach.status_code == 201, coach.text
    assert coach.json()["timezone"] == "Asia/Kolkata"
    parent = await http.post(
        "/api/parents", headers=ADMIN, json={"name": "Meera", "phone": f"+9198{int(suffix, 16) % 10**8:08d}"}
    )
    assert parent.status_code == 201, parent.text
    child = await http.post(
        "/api/children",
        headers=ADMIN,
        json={"name": "Aarav", "age": 7, "parentId": parent.json()["id"], "coachId": coach.json()["id"]},
    )
    assert child.status_code == 201, child.text
    start = (now_utc() - timedelta(days=10)).date().isoformat()
    enrolled = await http.post(
        "/api/enrollments",
        headers=ADMIN,
        json={
            "childId": child.json()["id"],
            "coachId": coach.json()["id"],
            "startDate": start,
            "sessionTime": "17:00",
            "weekdays": ["tue", "thu"],
            "sessionCount": 6,
        },
    )
    assert enrolled.status_code == 201, enrolled.text
    sessions = enrolled.json()["sessions"]
    assert [s["session_number"] for s in sessions] == [1, 2, 3, 4, 5, 6]
    assert sessions[0]["status"] == "pending"  # 10 days ago: awaiting the coach
    assert sessions[-1]["status"] == "scheduled"
    # the coach sees them with their own token
    mine = await http.get(f"/api/sessions?childId={child.json()['id']}", headers=auth(coach.json()["id"]))
    assert len(mine.json()["sessions"]) == 6


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/parents", {"name": "M", "phone": "98765"}, "phone"),
        ("/api/parents", {"name": "", "phone": "+919812345678"}, "name"),
        ("/api/coaches", {"name": "C", "email": "not-an-email"}, "email"),
        ("/api/coaches", {"name": "C", "email": "c@example.org", "timezone": "Mars/Olympus"}, "timezone"),
        ("/api/children", {"name": "K", "age": 40, "parentId": str(uuid4()), "coachId": str(uuid4())}, "age"),
        ("/api/children", {"name": "K", "age": 7, "parentId": "nope", "coachId": str(uuid4())}, "parentId"),
        (
            "/api/enrollments",
            {
                "childId": str(uuid4()),
                "coachId": str(uuid4()),
                "startDate": "2026-13-01",
                "sessionTime": "17:00",
                "weekdays": ["mon"],
                "sessionCount": 2,
            },
            "startDate",
        ),
        (
            "/api/enrollments",
            {
                "childId": str(uuid4()),
                "coachId": str(uuid4()),
                "startDate": "2026-01-05",
                "sessionTime": "17:00",
                "weekdays": ["funday"],
                "sessionCount": 2,
            },
            "weekdays",
        ),
        (
            "/api/enrollments",
            {
                "childId": str(uuid4()),
                "coachId": str(uuid4()),
                "startDate": "2026-01-05",
                "sessionTime": "17:00",
                "weekdays": ["mon"],
                "sessionCount": 53,
            },
            "sessionCount",
        ),
    ],
)
async def test_registration_validation(http, url: str, body: dict, field: str) -> None:  # type: ignore[no-untyped-def]
    response = await http.post(url, headers=ADMIN, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["detail"]


async def test_unknown_parent_or_coach_for_a_child_is_404(http) -> None:  # type: ignore[no-untyped-def]
    response = await http.post(
        "/api/children",
        headers=ADMIN,
        json={"name": "K", "age": 7, "parentId": str(uuid4()), "coachId": str(uuid4())},
    )
    assert response.status_code == 404
