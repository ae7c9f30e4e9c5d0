"""A client generated from the live ``/openapi.json`` by openapi-python-client, with its default settings,
parses every answer of a scenario into its typed models — each error body with its context fields.

Generation failed on the old document ("Duplicate key GMT0 in enum CreateCoachTimezone"), and errors
then parsed into one loose model per route and status, without their context.
"""

import asyncio
import importlib
import inspect
import json
import os
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from coach_sessions.statuses import Role
from tests.declared_errors import check_declared
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN_ID, Stack, token_for

PACKAGE = "coach_sessions_client"


async def _generate(document: dict[str, Any], into: Path) -> Path:
    """Run the generator as a developer would: ``openapi-python-client generate --path``, no config."""
    spec = into / "openapi.json"
    spec.write_text(json.dumps(document))
    bin_dir = Path(sys.executable).parent
    env = os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}  # its ruff hooks
    process = await asyncio.create_subprocess_exec(
        str(bin_dir / "openapi-python-client"), "generate", "--path", str(spec),
        cwd=into, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, output.decode()
    return into / "coach-sessions-client"


class Generated:
    """The generated package, imported from where it was written."""

    def __init__(self, root: Path) -> None:
        sys.path.insert(0, str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]  # a stale copy from an earlier run of this module
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self._client = importlib.import_module(PACKAGE)

    def api(self, tag: str, operation: str) -> ModuleType:
        return importlib.import_module(f"{PACKAGE}.api.{tag}.{operation}")

    def client(self, stack: Stack, token: str) -> Any:
        transport = stack.http._transport  # the same ASGI app the suite's own client talks to
        hooks = {"response": [self.hook]}
        return self._client.AuthenticatedClient(
            base_url="http://test", token=token, httpx_args={"transport": transport, "event_hooks": hooks}
        )

    hook: Any = None


@pytest.fixture
async def generated(stack: Stack, tmp_path: Path) -> Generated:
    document = (await stack.http.get("/openapi.json")).json()
    package = Generated(await _generate(document, tmp_path))
    package.hook = check_declared(document)
    return package


async def _call(gen: Generated, tag: str, operation: str, client: Any, expected: type, **kwargs: Any) -> Any:
    """One call through the generated code; its answer must parse into ``expected`` (never None)."""
    response = await gen.api(tag, operation).asyncio_detailed(client=client, **kwargs)
    assert isinstance(response.parsed, expected), (operation, response.status_code, response.content[:300])
    return response.parsed


async def test_a_generated_client_parses_every_answer_into_typed_models(
    generated: Generated, stack: Stack, pool: asyncpg.Pool
) -> None:
    m, call = generated.models, generated
    admin = generated.client(stack, token_for(ADMIN_ID, Role.ADMIN))

    # People and an enrollment, created by an admin.
    email = f"{uuid4().hex}@example.org"
    coach = await _call(
        call,
        "people",
        "create_coach",
        admin,
        m.Coach,
        body=m.CreateCoach(name="Asha", email=email, timezone="Etc/GMT+0"),
    )
    assert isinstance(coach.id, UUID) and isinstance(coach.created_at, datetime)
    again = await _call(
        call, "people", "create_coach", admin, m.ConflictError, body=m.CreateCoach(name="A", email=email)
    )
    assert again.error == "conflict"
    parent = await _call(
        call, "people", "create_parent", admin, m.Parent, body=m.CreateParent(name="Ravi", phone="+919811122233")
    )
    child = await _call(
        call, "people", "create_child", admin, m.Child,
        body=m.CreateChild(name="Meera", age=8, parent_id=parent.id, coach_id=coach.id),
    )  # fmt: skip
    plan = {"child_id": child.id, "coach_id": coach.id, "session_time": "17:00", "session_count": 3}
    start = date.today() + timedelta(days=30)
    weekdays = [m.CreateEnrollmentWeekdaysItem.MON]
    enrolled = await _call(
        call, "enrollments", "create_enrollment", admin, m.EnrollmentCreated,
        body=m.CreateEnrollment(start_date=start, weekdays=weekdays, **plan),
    )  # fmt: skip
    assert [s.status for s in enrolled.sessions] == [m.SessionStatus.SCHEDULED] * 3
    exists = await _call(
        call, "enrollments", "create_enrollment", admin, m.EnrollmentExistsError,
        body=m.CreateEnrollment(start_date=start + timedelta(days=7), weekdays=weekdays, **plan),
    )  # fmt: skip
    assert exists.enrollment_id == enrolled.enrollment.id

    # The coach's side: sessions that started already, one at a time.
    family = await make_family(pool)
    ids = await make_sessions(pool, family, [now_utc() - hours(48), now_utc() - hours(24)], statuses=["pending"] * 2)
    coach_client = generated.client(stack, token_for(family.coach.id))
    read = await _call(call, "sessions", "read_sessions", coach_client, m.SessionList, child_id=family.child.id)
    assert [s.session_number for s in read.sessions] == [1, 2]
    one = await _call(call, "sessions", "read_sessions", coach_client, m.SessionEnvelope, session_id=ids[0])
    assert one.session.cancellation_status == m.CancellationStatus.NONE
    assert one.session.calendar_sync_status in set(m.CalendarSyncStatus)

    locked = await _call(
        call,
        "sessions",
        "complete_session",
        coach_client,
        m.SessionLockedError,
        body=m.CompleteSession(session_id=ids[1]),
    )
    assert locked.blocking_session_number == 1
    done = await _call(
        call, "sessions", "complete_session", coach_client, m.SessionEnvelope,
        body=m.CompleteSession(session_id=ids[0], notes="Read two pages aloud"),
    )  # fmt: skip
    assert done.session.status == m.SessionStatus.COMPLETED
    finished = await _call(
        call,
        "sessions",
        "complete_session",
        coach_client,
        m.InvalidStatusError,
        body=m.CompleteSession(session_id=ids[0]),
    )
    assert finished.current_status == m.SessionStatus.COMPLETED
    not_pending = await _call(
        call, "cancellation_consent", "withdraw_cancellation", coach_client, m.NoCancellationPendingError,
        body=m.WithdrawCancellation(session_id=ids[1]),
    )  # fmt: skip
    assert not_pending.cancellation_status == m.CancellationStatus.NONE
    future = enrolled.sessions[0].id
    not_started = await _call(
        call, "sessions", "complete_session", admin, m.SessionNotStartedError, body=m.CompleteSession(session_id=future)
    )
    assert isinstance(not_started.scheduled_at, datetime)
    past = await _call(
        call, "sessions", "reschedule_session", coach_client, m.TimeInPastError,
        body=m.RescheduleSession(session_id=ids[1], new_date=date(2001, 1, 1), new_time="10:00"),
    )  # fmt: skip
    assert past.error == "time_in_past"
    slots = await _call(
        call, "sessions", "available_slots", coach_client, m.SlotList, session_id=ids[1], date=date.today()
    )
    assert isinstance(slots.session_id, UUID) and slots.working_hours.start
    prep = await _call(call, "brief", "session_prep", coach_client, m.SessionBrief, session_id=ids[1])
    assert prep is not None

    # Refusals of every kind, each in its own class.
    someone_else = generated.client(stack, token_for((await make_family(pool)).coach.id))
    hidden = await _call(call, "sessions", "read_sessions", someone_else, m.SessionNotFoundError, session_id=ids[0])
    assert hidden.error == "session_not_found"
    invalid = await _call(call, "sessions", "read_sessions", coach_client, m.ValidationError)
    assert invalid.error == "validation_error"
    refused = await _call(
        call,
        "sessions",
        "mark_missed",
        coach_client,
        m.ValidationError,
        body=m.MarkMissed(session_id=ids[1], notes="x" * 5000),
    )
    assert [f.field for f in refused.fields] == ["notes"]
    forbidden = await _call(
        call, "cancellation_consent", "decide_cancellation", coach_client, m.ForbiddenError,
        body=m.DecideCancellation(session_id=ids[1], decision=m.DecideCancellationDecision.APPROVE),
    )  # fmt: skip
    assert forbidden.error == "forbidden"
    anonymous = generated.client(stack, "not-a-token")
    assert (await _call(call, "people", "list_coaches", anonymous, m.UnauthorizedError)).error == "unauthorized"
    progress = await _call(call, "progress", "child_progress", coach_client, m.ProgressView, child_id=family.child.id)
    assert progress is not None


async def test_every_status_the_document_declares_has_a_parser(generated: Generated, stack: Stack) -> None:
    """The generated code knows each declared status: an undeclared one would parse to None."""
    document = (await stack.http.get("/openapi.json")).json()
    module = generated.api("sessions", "complete_session")
    source = inspect.getsource(module)
    for status in document["paths"]["/api/sessions/complete"]["post"]["responses"]:
        assert f"response.status_code == {status}" in source, status
    response = httpx.Response(409, json={"error": "session_locked", "detail": "…", "blocking_session_number": 4})
    parsed = module._parse_response(client=generated.client(stack, "t"), response=response)
    assert isinstance(parsed, generated.models.SessionLockedError) and parsed.blocking_session_number == 4
