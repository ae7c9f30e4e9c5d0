"""A fake Google Calendar v3 API (events insert/get/patch/delete, freeBusy) plus an OAuth token endpoint.

It mirrors the behaviour the provider depends on: client-supplied ids (base32hex, 5-1024 chars, unique
per calendar, still reserved after deletion → 409 ``duplicate``), Meet links only with
``conferenceDataVersion=1`` and a ``createRequest``, 410 ``deleted`` when deleting twice, and Google's
error JSON. Point the client at :attr:`FakeGoogleCalendar.api_endpoint`.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest

from tests.fakes import FakeHTTPServer, RecordedRequest, Reply, serving

_EVENTS = re.compile(r"^/calendar/v3/calendars/([^/]+)/events(?:/([^/]+))?$")
_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")

_DEFAULT_ERRORS: dict[int, tuple[str, str, str]] = {
    # status: (domain, reason, message) as Google's Calendar API answers them.
    400: ("global", "badRequest", "Bad Request"),
    401: ("global", "authError", "Invalid Credentials"),
    403: ("global", "forbidden", "Forbidden"),
    404: ("global", "notFound", "Not Found"),
    409: ("global", "duplicate", "The requested identifier already exists."),
    410: ("global", "deleted", "Resource has been deleted"),
    429: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("global", "backendError", "Backend Error"),
    503: ("global", "backendError", "The service is currently unavailable."),
}
_RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}


def google_error(status: int, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
    domain, default_reason, default_message = _DEFAULT_ERRORS.get(status, ("global", "error", "Error"))
    reason = reason or default_reason
    if reason in _RATE_LIMIT_REASONS:
        domain = "usageLimits"
    message = message or default_message
    return {
        "error": {
            "errors": [{"domain": domain, "reason": reason, "message": message}],
            "code": status,
            "message": message,
        }
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        return None
    try:
        parsed = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
    except ValueError:
        return None
    # Google accepts a naive dateTime only together with a timeZone; we only need ordering.
    return parsed if parsed.tzinfo else None


class FakeGoogleCalendar(FakeHTTPServer):
    fault_exempt_paths = frozenset({"/token"})

    def __init__(self) -> None:
        super().__init__()
        self.events: dict[tuple[str, str], dict[str, Any]] = {}
        self.unknown_calendars: set[str] = set()
        self.require_auth = False  # when True, calendar calls need a bearer token from /token
        self.token_requests: list[dict[str, Any]] = []  # decoded JWT-bearer assertion claims
        self._tokens: dict[str, str] = {}  # access token → delegated subject
        self.authorized_subjects: list[str | None] = []  # subject behind each calendar call

    @property
    def api_endpoint(self) -> str:
        return f"{self.base_url}/calendar/v3/"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.events.clear()
            self.unknown_calendars.clear()
            self.require_auth = False
            self.token_requests.clear()
            self._tokens.clear()
            self.authorized_subjects.clear()

    def error_payload(self, status: int, reason: str | None) -> Any:
        return google_error(status, reason)

    def live_events(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {key: ev for key, ev in self.events.items() if ev["status"] != "cancelled"}

    # -- routing -----------------------------------------------------------------------------

    def route(self, request: RecordedRequest) -> Reply:
        if request.path == "/token" and request.method == "POST":
            return self._token(request)
        if self.require_auth and (denied := self._authorize(request)) is not None:
            return denied
        if request.path == "/calendar/v3/freeBusy" and request.method == "POST":
            return self._free_busy(request)
        match = _EVENTS.match(request.path)
        if match is None:
            return Reply(404, google_error(404))
        calendar_id = unquote(match[1])
        event_id = unquote(match[2]) if match[2] else None
        if calendar_id in self.unknown_calendars:
            return Reply(404, google_error(404))
        if event_id is None:
            if request.method == "POST":
                return self._insert(calendar_id, request)
            return Reply(405, google_error(405, "methodNotAllowed", "Method Not Allowed"))
        handlers = {"GET": self._get, "PATCH": self._patch, "DELETE": self._delete}
        if request.method not in handlers:
            return Reply(405, google_error(405, "methodNotAllowed", "Method Not Allowed"))
        return handlers[request.method](calendar_id, event_id, request)

    # -- auth --------------------------------------------------------------------------------

    def _token(self, request: RecordedRequest) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        assertion = form.get("assertion", "")
        try:
            payload = assertion.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError):
            return Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT"})
        self.token_requests.append(claims)
        token = f"fake-token-{uuid.uuid4().hex}"
        self._tokens[token] = claims.get("sub")
        return Reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def _authorize(self, request: RecordedRequest) -> Reply | None:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or token not in self._tokens:
            return Reply(401, google_error(401))
        self.authorized_subjects.append(self._tokens[token])
        return None

    # -- events ------------------------------------------------------------------------------

    def _insert(self, calendar_id: str, request: RecordedRequest) -> Reply:
        body = request.json() or {}
        event_id = body.get("id") or uuid.uuid4().hex
        if not _EVENT_ID.match(event_id):
            return Reply(400, google_error(400, "invalid", "Invalid resource id value."))
        if (calendar_id, event_id) in self.events:
            return Reply(409, google_error(409))
        if (problem := _check_times(body)) is not None:
            return problem
        now = _now()
        event: dict[str, Any] = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": now,
            "creator": {"email": calendar_id, "self": True},
            "organizer": {"email": calendar_id, "self": True},
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        _merge(event, {k: v for k, v in body.items() if k not in {"id", "conferenceData"}})
        if (problem := self._conference(event, body, request)) is not None:
            return problem
        self._touch(event)
        self.events[(calendar_id, event_id)] = event
        return Reply(200, event)

    def _get(self, calendar_id: str, event_id: str, request: RecordedRequest) -> Reply:
        event = self.events.get((calendar_id, event_id))
        return Reply(200, event) if event else Reply(404, google_error(404))

    def _patch(self, calendar_id: str, event_id: str, request: RecordedRequest) -> Reply:
        event = self.events.get((calendar_id, event_id))
        if event is None:
            return Reply(404, google_error(404))
        body = request.json() or {}
        candidate = json.loads(json.dumps(event))
        _merge(candidate, {k: v for k, v in body.items() if k not in {"id", "conferenceData"}})
        if (problem := _check_times(candidate)) is not None:
            return problem
        if (problem := self._conference(candidate, body, request)) is not None:
            return problem
        candidate["sequence"] += 1
        self._touch(candidate)
        self.events[(calendar_id, event_id)] = candidate
        return Reply(200, candidate)

    def _delete(self, calendar_id: str, event_id: str, request: RecordedRequest) -> Reply:
        event = self.events.get((calendar_id, event_id))
        if event is None:
            return Reply(404, google_error(404))
        if event["status"] == "cancelled":
            return Reply(410, google_error(410))
        # Google keeps deleted events as "cancelled" and their ids stay taken.
        event["status"] = "cancelled"
        self._touch(event)
        return Reply(204)

    def _conference(self, event: dict[str, Any], body: dict[str, Any], request: RecordedRequest) -> Reply | None:
        """Honour ``conferenceData.createRequest`` only with ``conferenceDataVersion=1`` (as Google)."""
        if request.query.get("conferenceDataVersion", ["0"])[0] != "1":
            return None
        create = (body.get("conferenceData") or {}).get("createRequest")
        if not create:
            return None
        solution = (create.get("conferenceSolutionKey") or {}).get("type")
        if solution != "hangoutsMeet" or not create.get("requestId"):
            return Reply(400, google_error(400, "invalid", "Invalid conference type value."))
        existing = event.get("conferenceData") or {}
        if (existing.get("createRequest") or {}).get("requestId") == create["requestId"]:
            return None  # the same requestId again is ignored
        code = "-".join("".join(random.choices(string.ascii_lowercase, k=n)) for n in (3, 4, 3))
        link = f"https://meet.google.com/{code}"
        event["hangoutLink"] = link
        event["conferenceData"] = {
            "createRequest": {
                "requestId": create["requestId"],
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
                "status": {"statusCode": "success"},
            },
            "entryPoints": [{"entryPointType": "video", "uri": link, "label": link[8:]}],
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "conferenceId": code,
        }
        return None

    @staticmethod
    def _touch(event: dict[str, Any]) -> None:
        event["updated"] = _now()
        event["etag"] = f'"{uuid.uuid4().int % 10**16}"'

    # -- freeBusy ----------------------------------------------------------------------------

    def _free_busy(self, request: RecordedRequest) -> Reply:
        body = request.json() or {}
        try:
            lo = datetime.fromisoformat(body["timeMin"].replace("Z", "+00:00"))
            hi = datetime.fromisoformat(body["timeMax"].replace("Z", "+00:00"))
        except (KeyError, ValueError, AttributeError):
            return Reply(400, google_error(400, "required", "Missing timeMin or timeMax."))
        calendars: dict[str, Any] = {}
        for item in body.get("items", []):
            cid = item.get("id")
            if cid in self.unknown_calendars:
                calendars[cid] = {"errors": [{"domain": "global", "reason": "notFound"}]}
                continue
            busy = []
            for (ev_cal, _), ev in sorted(self.live_events().items()):
                start, end = _parse_time(ev.get("start")), _parse_time(ev.get("end"))
                if ev_cal == cid and start and end and start < hi and end > lo:
                    busy.append({"start": _utc(start), "end": _utc(end)})
            calendars[cid] = {"busy": busy}
        return Reply(
            200,
            {
                "kind": "calendar#freeBusy",
                "timeMin": body["timeMin"],
                "timeMax": body["timeMax"],
                "calendars": calendars,
            },
        )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """PATCH semantics: nested objects merge one level deep, everything else is replaced."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = {**target[key], **value}
        else:
            target[key] = value


def _check_times(event: dict[str, Any]) -> Reply | None:
    start, end = _parse_time(event.get("start")), _parse_time(event.get("end"))
    if start is None or end is None:
        return Reply(400, google_error(400, "required", "Missing start or end time."))
    if end <= start:
        return Reply(400, google_error(400, "timeRangeEmpty", "The specified time range is empty."))
    return None


@pytest.fixture(scope="session")
def fake_google_calendar_server() -> Iterator[FakeGoogleCalendar]:
    """One fake Google Calendar per test run (started once, port freed at the end)."""
    with serving(FakeGoogleCalendar()) as fake:
        yield fake


@pytest.fixture
def fake_google_calendar(fake_google_calendar_server: FakeGoogleCalendar) -> FakeGoogleCalendar:
    """The shared fake, emptied of events, faults and recorded requests for this test."""
    fake_google_calendar_server.reset()
    return fake_google_calendar_server
