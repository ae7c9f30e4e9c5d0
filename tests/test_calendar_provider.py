"""Calendar providers against a real HTTP fake of Google Calendar v3 and the real Postgres."""

import asyncio
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from pydantic import ValidationError

from coach_sessions.providers.calendar import (
    CALENDAR_SCOPE,
    CalendarEventSpec,
    CalendarRejectedError,
    CalendarTransientError,
    GoogleCalendarProvider,
    LocalCalendarProvider,
    build_calendar_provider,
    local_meet_link,
)
from coach_sessions.settings import Settings
from tests.fakes import free_port
from tests.fakes.google_calendar import FakeGoogleCalendar
from tests.fakes.service_account import service_account_file

IST = ZoneInfo("Asia/Kolkata")
COACH = "coach@example.org"
MEET = re.compile(r"^https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}$")


def _settings(**overrides: object) -> Settings:
    return Settings(app_env="test", calendar_provider="google", **overrides)  # type: ignore[arg-type]


def _spec(**overrides: object) -> CalendarEventSpec:
    start = datetime(2031, 3, 4, 17, 0, tzinfo=IST)
    values: dict[str, object] = {
        "calendar_id": COACH,
        "event_id": uuid.uuid4().hex,
        "summary": "Reading session 3 with Aarav",
        "description": "Weekly coaching session",
        "start": start,
        "end": start + timedelta(minutes=45),
        "timezone": "Asia/Kolkata",
        "subject": COACH,
    }
    values.update(overrides)
    return CalendarEventSpec.model_validate(values)


def _shifted(spec: CalendarEventSpec, by: timedelta) -> CalendarEventSpec:
    return spec.model_copy(update={"start": spec.start + by, "end": spec.end + by})


@pytest.fixture
def google(fake_google_calendar: FakeGoogleCalendar) -> GoogleCalendarProvider:
    settings = _settings(google_calendar_api_endpoint=fake_google_calendar.api_endpoint)
    return GoogleCalendarProvider(settings, credentials=AnonymousCredentials(), timeout=0.5)


# -- Google: happy paths ---------------------------------------------------------------------


async def test_insert_creates_event_with_meet_link(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    spec = _spec()
    event = await google.upsert_event(spec)

    stored = fake_google_calendar.events[(COACH, spec.event_id)]
    assert event.event_id == spec.event_id
    assert event.meet_link is not None and MEET.match(event.meet_link)
    assert stored["hangoutLink"] == event.meet_link
    assert stored["start"] == {"dateTime": "2031-03-04T17:00:00+05:30", "timeZone": "Asia/Kolkata"}
    assert stored["end"]["dateTime"] == "2031-03-04T17:45:00+05:30"
    [request] = fake_google_calendar.request_log
    assert request.method == "POST"
    assert request.path == "/calendar/v3/calendars/coach%40example.org/events"
    assert request.query["conferenceDataVersion"] == ["1"]
    assert request.query["sendUpdates"] == ["all"]
    create = request.json()["conferenceData"]["createRequest"]
    assert create == {"requestId": f"meet-{spec.event_id}", "conferenceSolutionKey": {"type": "hangoutsMeet"}}


async def test_upsert_twice_creates_one_event_via_409(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    spec = _spec()
    first = await google.upsert_event(spec)
    second = await google.upsert_event(spec)

    assert first == second
    assert list(fake_google_calendar.events) == [(COACH, spec.event_id)]
    assert fake_google_calendar.requests == {"POST": 2, "PATCH": 1}


async def test_concurrent_upserts_of_one_session_make_one_event(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    spec = _spec()
    results = await asyncio.gather(*(google.upsert_event(spec) for _ in range(5)))

    assert len(fake_google_calendar.events) == 1
    stored = fake_google_calendar.events[(COACH, spec.event_id)]
    assert {r.meet_link for r in results} == {stored["hangoutLink"]}


async def test_upsert_of_existing_id_patches_times_and_keeps_link(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    spec = _spec()
    created = await google.upsert_event(spec)
    moved = _shifted(spec, timedelta(days=2))

    updated = await google.upsert_event(moved)

    stored = fake_google_calendar.events[(COACH, spec.event_id)]
    assert stored["start"]["dateTime"] == "2031-03-06T17:00:00+05:30"
    assert stored["end"]["dateTime"] == "2031-03-06T17:45:00+05:30"
    assert stored["sequence"] == 1
    assert updated.meet_link == created.meet_link
    patch = fake_google_calendar.request_log[-1]
    assert patch.method == "PATCH" and patch.path.endswith(f"/events/{spec.event_id}")
    assert "conferenceData" not in patch.json()


async def test_upsert_adds_meet_link_to_existing_event_without_one(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    spec = _spec()
    # The id is taken by an event that has no conference (e.g. created by another tool).
    fake_google_calendar.events[(COACH, spec.event_id)] = {
        "id": spec.event_id,
        "status": "confirmed",
        "sequence": 0,
        "start": {"dateTime": "2031-01-01T10:00:00+05:30"},
        "end": {"dateTime": "2031-01-01T11:00:00+05:30"},
    }

    event = await google.upsert_event(spec)

    assert event.meet_link is not None and MEET.match(event.meet_link)
    assert fake_google_calendar.events[(COACH, spec.event_id)]["hangoutLink"] == event.meet_link
    assert fake_google_calendar.requests == {"POST": 1, "PATCH": 2}


async def test_no_calendar_id_means_the_subjects_primary_calendar(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    spec = _spec(calendar_id=None)
    await google.upsert_event(spec)
    assert ("primary", spec.event_id) in fake_google_calendar.events


async def test_cancel_then_cancel_again_and_unknown_event_succeed(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    spec = _spec()
    await google.upsert_event(spec)

    await google.cancel_event(COACH, spec.event_id, COACH)
    await google.cancel_event(COACH, spec.event_id, COACH)  # 410 deleted
    await google.cancel_event(COACH, uuid.uuid4().hex, COACH)  # 404 never existed

    assert fake_google_calendar.events[(COACH, spec.event_id)]["status"] == "cancelled"
    deletes = [r for r in fake_google_calendar.request_log if r.method == "DELETE"]
    assert len(deletes) == 3
    assert all(r.query["sendUpdates"] == ["all"] for r in deletes)


async def test_upsert_after_cancel_restores_the_event(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    spec = _spec()
    created = await google.upsert_event(spec)
    await google.cancel_event(COACH, spec.event_id, COACH)

    restored = await google.upsert_event(spec)

    assert fake_google_calendar.events[(COACH, spec.event_id)]["status"] == "confirmed"
    assert restored.meet_link == created.meet_link


# -- Google: failures ------------------------------------------------------------------------


async def test_503_is_transient_and_the_retry_creates_one_event(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    spec = _spec()
    fake_google_calendar.fail_next(1, status=503)
    with pytest.raises(CalendarTransientError) as caught:
        await google.upsert_event(spec)
    assert caught.value.status_code == 503
    assert fake_google_calendar.events == {}

    await google.upsert_event(spec)
    assert len(fake_google_calendar.events) == 1


async def test_outage_until_recovery(google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar) -> None:
    spec = _spec()
    fake_google_calendar.outage(500)
    for _ in range(2):
        with pytest.raises(CalendarTransientError):
            await google.upsert_event(spec)
    with pytest.raises(CalendarTransientError):
        await google.cancel_event(COACH, spec.event_id, COACH)
    fake_google_calendar.recover()
    assert (await google.upsert_event(spec)).meet_link


@pytest.mark.parametrize(
    ("status", "reason"),
    [(429, None), (403, "rateLimitExceeded"), (403, "userRateLimitExceeded"), (500, None), (502, None)],
)
async def test_rate_limits_and_server_errors_are_transient(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar, status: int, reason: str | None
) -> None:
    fake_google_calendar.fail_next(1, status=status, reason=reason)
    with pytest.raises(CalendarTransientError) as caught:
        await google.upsert_event(_spec())
    assert caught.value.status_code == status


@pytest.mark.parametrize(("status", "reason"), [(400, None), (403, "forbidden"), (404, None)])
async def test_client_errors_are_rejected(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar, status: int, reason: str | None
) -> None:
    fake_google_calendar.fail_next(1, status=status, reason=reason)
    with pytest.raises(CalendarRejectedError) as caught:
        await google.upsert_event(_spec())
    assert caught.value.status_code == status


async def test_taken_id_whose_event_cannot_be_found_is_rejected(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    # Google can keep an id reserved (409) after the event itself is gone for good (404).
    fake_google_calendar.fail_next(1, status=409)
    with pytest.raises(CalendarRejectedError) as caught:
        await google.upsert_event(_spec())
    assert caught.value.status_code == 404
    assert [r.method for r in fake_google_calendar.request_log] == ["POST", "PATCH"]


async def test_unknown_calendar_is_rejected_with_404(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    fake_google_calendar.unknown_calendars.add("gone@example.org")
    with pytest.raises(CalendarRejectedError) as caught:
        await google.upsert_event(_spec(calendar_id="gone@example.org"))
    assert caught.value.status_code == 404


async def test_cancel_errors_other_than_gone_propagate(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    fake_google_calendar.fail_next(1, status=403, reason="forbidden")
    with pytest.raises(CalendarRejectedError):
        await google.cancel_event(COACH, uuid.uuid4().hex, COACH)


async def test_timeout_is_transient(google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar) -> None:
    fake_google_calendar.slow(3.0)  # the provider's timeout is 0.5 s
    with pytest.raises(CalendarTransientError, match="unreachable"):
        await google.upsert_event(_spec())


async def test_connection_refused_is_transient() -> None:
    settings = _settings(google_calendar_api_endpoint=f"http://127.0.0.1:{free_port()}/calendar/v3/")
    provider = GoogleCalendarProvider(settings, credentials=AnonymousCredentials(), timeout=0.5)
    with pytest.raises(CalendarTransientError):
        await provider.upsert_event(_spec())


# -- Google: service account with domain-wide delegation ------------------------------------


async def test_service_account_impersonates_each_coach(
    fake_google_calendar: FakeGoogleCalendar, tmp_path: Path
) -> None:
    fake_google_calendar.require_auth = True
    key_file = service_account_file(tmp_path / "service-account.json", fake_google_calendar.token_uri)
    settings = _settings(
        google_service_account_file=str(key_file),
        google_calendar_api_endpoint=fake_google_calendar.api_endpoint,
    )
    provider = build_calendar_provider(settings, pool=None)  # type: ignore[arg-type]
    assert isinstance(provider, GoogleCalendarProvider)

    await provider.upsert_event(_spec())
    await provider.upsert_event(_spec())  # the same coach's token is reused
    await provider.upsert_event(_spec(calendar_id="other@example.org", subject="other@example.org"))

    claims = fake_google_calendar.token_requests
    assert [c["sub"] for c in claims] == [COACH, "other@example.org"]
    assert all(c["scope"] == CALENDAR_SCOPE for c in claims)
    assert fake_google_calendar.authorized_subjects == [COACH, COACH, "other@example.org"]


async def test_401_after_token_refresh_is_rejected(fake_google_calendar: FakeGoogleCalendar, tmp_path: Path) -> None:
    fake_google_calendar.require_auth = True
    key_file = service_account_file(tmp_path / "service-account.json", fake_google_calendar.token_uri)
    settings = _settings(
        google_service_account_file=str(key_file),
        google_calendar_api_endpoint=fake_google_calendar.api_endpoint,
    )
    provider = GoogleCalendarProvider(settings, timeout=0.5)
    fake_google_calendar.outage(401)  # the token endpoint keeps answering; the API never accepts
    with pytest.raises(CalendarRejectedError) as caught:
        await provider.upsert_event(_spec())
    assert caught.value.status_code == 401
    assert len(fake_google_calendar.token_requests) >= 2  # it did refresh before giving up


def test_google_provider_requires_credentials() -> None:
    with pytest.raises(ValueError, match="GOOGLE_SERVICE_ACCOUNT_FILE"):
        GoogleCalendarProvider(_settings())


# -- spec validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"event_id": "session-1"},  # not base32hex
        {"event_id": "abc"},  # too short
        {"start": datetime(2031, 3, 4, 17, 0)},  # naive
        {"timezone": "Mars/Olympus"},
        {"end": datetime(2031, 3, 4, 16, 0, tzinfo=IST)},  # ends before it starts
    ],
)
def test_spec_rejects_invalid_values(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _spec(**overrides)


# -- Local provider (Postgres) ---------------------------------------------------------------


async def _local_row(pool: asyncpg.Pool, calendar_id: str, event_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT * FROM local_calendar_events WHERE calendar_id = $1 AND event_id = $2", calendar_id, event_id
    )


async def test_local_provider_round_trip(pool: asyncpg.Pool) -> None:
    local = build_calendar_provider(Settings(app_env="test"), pool)
    assert isinstance(local, LocalCalendarProvider) and local.name == "local"
    spec = _spec()

    created = await local.upsert_event(spec)
    again = await local.upsert_event(_shifted(spec, timedelta(hours=1)))

    assert created == again
    assert created.meet_link == local_meet_link(spec.event_id) and MEET.match(created.meet_link)
    row = await _local_row(pool, COACH, spec.event_id)
    assert row is not None
    assert row["start_at"] == spec.start + timedelta(hours=1)
    assert row["status"] == "confirmed"
    assert await pool.fetchval("SELECT count(*) FROM local_calendar_events WHERE event_id = $1", spec.event_id) == 1

    await local.cancel_event(COACH, spec.event_id, COACH)
    await local.cancel_event(COACH, spec.event_id, COACH)
    await local.cancel_event(COACH, uuid.uuid4().hex, COACH)
    row = await _local_row(pool, COACH, spec.event_id)
    assert row is not None and row["status"] == "cancelled"


async def test_local_provider_without_calendar_uses_the_coach_name(pool: asyncpg.Pool) -> None:
    local = LocalCalendarProvider(pool)
    with_subject = _spec(calendar_id=None)
    anonymous = _spec(calendar_id="", subject=None)

    await local.upsert_event(with_subject)
    await local.upsert_event(anonymous)

    assert await _local_row(pool, f"local:{COACH}", with_subject.event_id) is not None
    assert await _local_row(pool, "local:default", anonymous.event_id) is not None


def test_local_meet_link_is_stable_and_distinct() -> None:
    assert local_meet_link("abcde12345") == local_meet_link("abcde12345")
    assert local_meet_link("abcde12345") != local_meet_link("abcde12346")


# -- the fake itself: freeBusy ---------------------------------------------------------------


async def test_fake_free_busy_lists_confirmed_events(
    google: GoogleCalendarProvider, fake_google_calendar: FakeGoogleCalendar
) -> None:
    spec = _spec()
    await google.upsert_event(spec)
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{fake_google_calendar.api_endpoint}freeBusy",
            json={
                "timeMin": "2031-03-04T00:00:00Z",
                "timeMax": "2031-03-05T00:00:00Z",
                "items": [{"id": COACH}],
            },
        )
    assert answer.json()["calendars"][COACH]["busy"] == [
        {"start": "2031-03-04T11:30:00Z", "end": "2031-03-04T12:15:00Z"}
    ]
