"""The coach's calendar: one event (with a Meet link) per scheduled session.

Every call is idempotent because the event id is derived from the session id: a retried insert
finds its own event (409) and patches it instead of creating a second one, and deleting an event
that is already gone counts as success. Errors come out as two classes so the caller can decide:
:class:`CalendarTransientError` (retry later) or :class:`CalendarRejectedError` (retrying won't help).
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import string
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import google_auth_httplib2
import httplib2
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import Credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from coach_sessions.logging import error_text
from coach_sessions.repositories.local_calendar import LocalCalendarRepository
from coach_sessions.settings import Settings
from coach_sessions.slots import Busy

CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
# Google's client-supplied event ids: base32hex (a-v, 0-9), 5-1024 characters.
EVENT_ID_PATTERN = r"^[a-v0-9]{5,1024}$"
# 403s that mean "slow down", not "forbidden"; Calendar's usage limits reset within hours.
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "RATE_LIMIT_EXCEEDED"})

T = TypeVar("T")


class CalendarEventSpec(BaseModel):
    calendar_id: str | None  # the coach's Google calendar id; None/"" → their primary calendar
    event_id: str = Field(pattern=EVENT_ID_PATTERN)  # deterministic: uuid.hex of the session id
    summary: str
    description: str
    start: AwareDatetime
    end: AwareDatetime
    timezone: str  # IANA name, e.g. Asia/Kolkata
    subject: str | None = None  # coach email to impersonate (domain-wide delegation)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _end_after_start(self) -> CalendarEventSpec:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class CalendarEvent(BaseModel):
    event_id: str
    meet_link: str | None


class CalendarError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class CalendarTransientError(CalendarError):
    """5xx, 429, rate-limit 403, timeouts, connection errors: the same call may succeed later."""


class CalendarRejectedError(CalendarError):
    """A 4xx that retrying cannot fix (bad request, auth, permission, unknown calendar)."""


class CalendarProvider(Protocol):
    name: str

    async def upsert_event(self, spec: CalendarEventSpec) -> CalendarEvent: ...

    async def cancel_event(self, calendar_id: str | None, event_id: str, subject: str | None) -> None: ...


class BusyTimes(Protocol):
    """What the free-slot finder asks a calendar (Google's freeBusy, or the local events table)."""

    async def busy_times(
        self, calendar_id: str | None, subject: str | None, lo: datetime, hi: datetime
    ) -> list[Busy]: ...


# -- Google ----------------------------------------------------------------------------------


def _event_times(spec: CalendarEventSpec) -> dict[str, Any]:
    return {
        "summary": spec.summary,
        "description": spec.description,
        "start": {"dateTime": spec.start.isoformat(), "timeZone": spec.timezone},
        "end": {"dateTime": spec.end.isoformat(), "timeZone": spec.timezone},
    }


def _meet_request(request_id: str) -> dict[str, Any]:
    return {"createRequest": {"requestId": request_id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}}


def _meet_link(event: dict[str, Any]) -> str | None:
    if link := event.get("hangoutLink"):
        return str(link)
    for entry in (event.get("conferenceData") or {}).get("entryPoints", []):
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    return None


def _error_reasons(error: HttpError) -> set[str]:
    try:
        body = json.loads(error.content.decode("utf-8"))["error"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return set()
    if not isinstance(body, dict):
        return set()
    entries = [*body.get("errors", []), *body.get("details", [])]
    return {str(e["reason"]) for e in entries if isinstance(e, dict) and e.get("reason")}


def _translate(exc: Exception) -> Exception:
    """Map client/transport failures onto the two error classes; unknown errors pass through."""
    if isinstance(exc, HttpError):
        status = exc.status_code
        text = f"Google Calendar answered {status}: {error_text(str(exc.reason))}"
        if status in (408, 429) or status >= 500:
            return CalendarTransientError(text, status_code=status)
        if status == 403 and _error_reasons(exc) & _RATE_LIMIT_REASONS:
            return CalendarTransientError(text, status_code=status)
        return CalendarRejectedError(text, status_code=status)
    if isinstance(exc, auth_exceptions.RefreshError):
        # e.g. "unauthorized_client": delegation not granted for this scope; retrying won't help.
        cls = CalendarTransientError if exc.retryable else CalendarRejectedError
        return cls(f"Google token refresh failed: {error_text(exc)}", status_code=None if exc.retryable else 401)
    if isinstance(
        exc,
        OSError | http.client.HTTPException | httplib2.HttpLib2Error | auth_exceptions.TransportError,
    ):
        return CalendarTransientError(f"Google Calendar unreachable: {type(exc).__name__}: {error_text(exc)}")
    return exc


class GoogleCalendarProvider:
    """Google Calendar v3 through google-api-python-client, off the event loop.

    The discovery client is built once; each provider call gets its own ``httplib2.Http`` (it is not
    thread-safe) wrapped with the subject's credentials, and runs in a worker thread. The library's
    own retries are off (``num_retries=0``): the workflow engine owns retrying. ``timeout`` is per
    HTTP request; an upsert makes up to three, so keep 3 x timeout under the activity's timeout.
    """

    name = "google"

    def __init__(
        self,
        settings: Settings,
        *,
        credentials: Credentials | None = None,
        timeout: float = 8.0,
    ) -> None:
        if credentials is None and not settings.google_service_account_file:
            raise ValueError("CALENDAR_PROVIDER=google needs GOOGLE_SERVICE_ACCOUNT_FILE")
        self._send_updates = settings.google_calendar_send_updates
        self._timeout = timeout
        # Injected credentials (tests, workload identity) are used as-is for every subject.
        self._fixed_credentials = credentials
        self._base_credentials: service_account.Credentials | None = None
        if credentials is None:
            self._base_credentials = service_account.Credentials.from_service_account_file(
                settings.google_service_account_file, scopes=[CALENDAR_SCOPE]
            )
        # One delegated credentials object per coach, so their access tokens are cached and reused.
        self._by_subject: dict[str | None, Credentials] = {}
        self._lock = threading.Lock()
        client_options = (
            {"api_endpoint": settings.google_calendar_api_endpoint} if settings.google_calendar_api_endpoint else None
        )
        # The service object only builds requests; every execute() gets its own authorized Http,
        # so the placeholder Http here never carries a request.
        self._service = build(
            "calendar",
            "v3",
            http=httplib2.Http(),
            static_discovery=True,
            client_options=client_options,
        )

    async def upsert_event(self, spec: CalendarEventSpec) -> CalendarEvent:
        return await self._run(spec.subject, lambda http: self._upsert(http, spec))

    async def cancel_event(self, calendar_id: str | None, event_id: str, subject: str | None) -> None:
        await self._run(subject, lambda http: self._cancel(http, calendar_id, event_id))

    async def busy_times(self, calendar_id: str | None, subject: str | None, lo: datetime, hi: datetime) -> list[Busy]:
        """``POST /calendar/v3/freeBusy`` for one calendar between ``lo`` and ``hi``."""
        return await self._run(subject, lambda http: self._free_busy(http, calendar_id or "primary", lo, hi))

    # -- blocking parts (worker thread) ------------------------------------------------------

    def _free_busy(
        self, http: google_auth_httplib2.AuthorizedHttp, calendar: str, lo: datetime, hi: datetime
    ) -> list[Busy]:
        body = {"timeMin": lo.isoformat(), "timeMax": hi.isoformat(), "items": [{"id": calendar}]}
        answer = self._service.freebusy().query(body=body).execute(http=http)
        entry = (answer.get("calendars") or {}).get(calendar) or {}
        if entry.get("errors"):
            reasons = ", ".join(str(e.get("reason")) for e in entry["errors"])
            # Not the calendar's id: it is the coach's email. The caller logs the coach's id.
            raise CalendarRejectedError(f"Google Calendar freeBusy refused the calendar: {error_text(reasons)}")
        return [
            (
                datetime.fromisoformat(b["start"].replace("Z", "+00:00")),
                datetime.fromisoformat(b["end"].replace("Z", "+00:00")),
            )
            for b in entry.get("busy", [])
        ]

    def _upsert(self, http: google_auth_httplib2.AuthorizedHttp, spec: CalendarEventSpec) -> CalendarEvent:
        events = self._service.events()
        calendar = spec.calendar_id or "primary"
        body = {**_event_times(spec), "id": spec.event_id, "conferenceData": _meet_request(f"meet-{spec.event_id}")}
        try:
            event = events.insert(
                calendarId=calendar,
                body=body,
                conferenceDataVersion=1,
                sendUpdates=self._send_updates,
            ).execute(http=http)
        except HttpError as exc:
            if exc.status_code != 409:
                raise
            # The id exists: an earlier attempt got through (or the session was re-synced). Bring
            # it to the spec; "confirmed" restores it if it had been cancelled.
            event = events.patch(
                calendarId=calendar,
                eventId=spec.event_id,
                body={**_event_times(spec), "status": "confirmed"},
                sendUpdates=self._send_updates,
            ).execute(http=http)
            if _meet_link(event) is None:
                # Only add a conference when there is none: re-requesting one could replace the
                # Meet link parents already received.
                event = events.patch(
                    calendarId=calendar,
                    eventId=spec.event_id,
                    conferenceDataVersion=1,
                    body={"conferenceData": _meet_request(f"meet-{spec.event_id}-patch")},
                ).execute(http=http)
        return CalendarEvent(event_id=event["id"], meet_link=_meet_link(event))

    def _cancel(self, http: google_auth_httplib2.AuthorizedHttp, calendar_id: str | None, event_id: str) -> None:
        try:
            self._service.events().delete(
                calendarId=calendar_id or "primary", eventId=event_id, sendUpdates=self._send_updates
            ).execute(http=http)
        except HttpError as exc:
            if exc.status_code not in (404, 410):  # already gone is what we wanted
                raise

    def _credentials_for(self, subject: str | None) -> Credentials:
        if self._fixed_credentials is not None:
            return self._fixed_credentials
        assert self._base_credentials is not None
        with self._lock:
            creds = self._by_subject.get(subject)
            if creds is None:
                creds = self._base_credentials.with_subject(subject)
                self._by_subject[subject] = creds
            return creds

    async def _run(self, subject: str | None, call: Callable[[google_auth_httplib2.AuthorizedHttp], T]) -> T:
        def in_thread() -> T:
            http = google_auth_httplib2.AuthorizedHttp(
                self._credentials_for(subject), http=httplib2.Http(timeout=self._timeout)
            )
            try:
                return call(http)
            except Exception as exc:
                translated = _translate(exc)
                if translated is exc:
                    raise
                raise translated from exc
            finally:
                http.close()

        return await asyncio.to_thread(in_thread)


# -- Local -----------------------------------------------------------------------------------


def local_meet_link(event_id: str) -> str:
    """A Meet-shaped link derived from the event id. NOT a real meeting: a local stand-in."""
    digest = hashlib.sha256(event_id.encode()).digest()
    letters = "".join(string.ascii_lowercase[b % 26] for b in digest[:10])
    return f"https://meet.google.com/{letters[:3]}-{letters[3:7]}-{letters[7:]}"


class LocalCalendarProvider:
    """Keeps events in Postgres (:class:`LocalCalendarRepository`) for machines without Google credentials.

    Clearly a stand-in: nothing reaches a real calendar, and the Meet link (derived from the event
    id, so stable across retries) does not lead to a real meeting.
    """

    name = "local"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._store = LocalCalendarRepository(pool)

    @staticmethod
    def calendar_key(calendar_id: str | None, subject: str | None) -> str:
        """Coaches without a calendar still get one, named after them."""
        return calendar_id or f"local:{subject or 'default'}"

    async def upsert_event(self, spec: CalendarEventSpec) -> CalendarEvent:
        calendar = self.calendar_key(spec.calendar_id, spec.subject)
        link = await self._store.upsert(
            calendar, spec.event_id, spec.summary, spec.start, spec.end, local_meet_link(spec.event_id)
        )
        return CalendarEvent(event_id=spec.event_id, meet_link=link)

    async def cancel_event(self, calendar_id: str | None, event_id: str, subject: str | None) -> None:
        await self._store.cancel(self.calendar_key(calendar_id, subject), event_id)

    async def busy_times(self, calendar_id: str | None, subject: str | None, lo: datetime, hi: datetime) -> list[Busy]:
        return await self._store.busy(self.calendar_key(calendar_id, subject), lo, hi)


def build_calendar_provider(settings: Settings, pool: asyncpg.Pool) -> CalendarProvider:
    if settings.calendar_provider == "google":
        return GoogleCalendarProvider(settings)
    return LocalCalendarProvider(pool)


def build_busy_times(settings: Settings, pool: asyncpg.Pool) -> BusyTimes:
    """The configured calendar, as the free-slot finder sees it."""
    if settings.calendar_provider == "google":
        return GoogleCalendarProvider(settings)
    return LocalCalendarProvider(pool)
