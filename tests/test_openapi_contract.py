"""The OpenAPI document tells the truth: every status an operation can answer, with the body it really
has; the error codes in docs/api.md are the API's."""

import re
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.errors import HTTP_STATUS
from coach_sessions.errors import KNOWN_CODES
from coach_sessions.settings import Settings
from tests.declared_errors import codes_of, undeclared
from tests.helpers import ADMIN, Stack

API_DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings(app_env="test", auth_jwt_secret="x" * 40)).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_every_error_code_has_one_status() -> None:
    assert set(HTTP_STATUS) == KNOWN_CODES


def test_the_api_doc_lists_exactly_the_codes_the_api_answers() -> None:
    section = API_DOC.read_text().split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    listed = {code: int(status) for code, status in re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", section, re.M)}
    assert listed == HTTP_STATUS


def test_no_operation_keeps_fastapis_default_422(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in _operations(document):
        if "422" in operation["responses"]:
            assert "validation_error" in codes_of(document, operation["responses"]["422"]), (method, path)
    fields = document["components"]["schemas"]["ValidationError"]["properties"]["fields"]
    assert fields["items"] == {"$ref": "#/components/schemas/FieldError"}


def test_every_operation_declares_the_statuses_it_can_answer(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        declared = set(operation["responses"])
        if path in ("/healthz", "/readyz"):
            continue
        assert {"500", "503"} <= declared, (method, path)
        if operation.get("security"):
            assert {"401", "422"} <= declared, (method, path)
        if "requestBody" in operation:
            assert {"400", "413"} <= declared, (method, path)
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                # Each code under the status the one table gives it, and only the route's own codes.
                codes = codes_of(document, response)
                assert {HTTP_STATUS[code] for code in codes} == {int(status)}, (method, path, status)


def test_every_unsafe_authenticated_operation_and_only_those_can_answer_csrf_failed(document: dict[str, Any]) -> None:
    """A page's session cookie comes with every request; its CSRF token is checked on unsafe methods only.
    A family link (X-Family-Link) is a header no browser sends by itself: its routes have no CSRF check."""
    for method, path, operation in _operations(document):
        schemes = {name for requirement in operation.get("security", []) for name in requirement}
        if not schemes or schemes == {"FamilyLink"}:
            continue
        declared = codes_of(document, operation["responses"]["403"]) if "403" in operation["responses"] else set()
        assert ("csrf_failed" in declared) == (method.upper() not in ("GET", "HEAD", "OPTIONS")), (method, path)


def test_each_route_names_its_own_codes_not_the_whole_table(document: dict[str, Any]) -> None:
    """/complete cannot answer enrollment_exists, nor its 503 brief_unavailable."""
    complete = document["paths"]["/api/sessions/complete"]["post"]["responses"]
    assert codes_of(document, complete["409"]) == {
        "cancellation_pending",
        "idempotency_key_in_progress",
        "invalid_status",
        "session_locked",
        "session_not_started",
    }
    assert codes_of(document, complete["503"]) == {"service_unavailable", "temporarily_unavailable"}
    enroll = document["paths"]["/api/enrollments"]["post"]["responses"]
    assert codes_of(document, enroll["409"]) == {"enrollment_exists", "conflict"}  # conflict: a deactivated coach


def test_error_bodies_are_shared_components_with_typed_context(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for _, _, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and operation["operationId"] != "readyz":
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                assert "properties" not in schema, "an error body written inline"
    context = {
        "SessionLockedError": ("blocking_session_number", {"type": "integer"}),
        "InvalidStatusError": ("current_status", {"$ref": "#/components/schemas/SessionStatus"}),
        "EnrollmentExistsError": ("enrollment_id", {"type": "string", "format": "uuid"}),
        "InsideMinimumNoticeError": ("notice_ends_at", {"type": "string", "format": "date-time"}),
    }
    for name, (field, expected) in context.items():
        declared = schemas[name]["properties"][field]
        assert expected.items() <= declared.items(), (name, declared)
        assert field in schemas[name]["required"]
    pending = schemas["NoCancellationPendingError"]["properties"]["cancellation_status"]
    assert {"$ref": "#/components/schemas/CancellationStatus"} in pending["anyOf"]


def test_statuses_are_enums_and_ids_uuids(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    view = schemas["SessionView"]["properties"]
    for field, enum in (
        ("status", "SessionStatus"),
        ("cancellation_status", "CancellationStatus"),
        ("calendar_sync_status", "CalendarSyncStatus"),
    ):
        assert view[field] == {"$ref": f"#/components/schemas/{enum}"}, field
        assert schemas[enum]["enum"]
    assert schemas["SlotList"]["properties"]["session_id"]["format"] == "uuid"
    assert schemas["SlotList"]["properties"]["working_hours"] == {"$ref": "#/components/schemas/WorkingHours"}
    assert schemas["Readiness"]["properties"]["checks"] == {"$ref": "#/components/schemas/ReadinessChecks"}


def test_operation_ids_are_readable_and_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids))
    assert "complete_session" in ids
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", i) for i in ids), ids


def test_timezones_are_no_enum_and_the_same_on_every_host(document: dict[str, Any]) -> None:
    """The document once listed the host's zones (it differed between machines) in an enum that
    generators fold (Etc/GMT+0, Etc/GMT-0): a pattern now, the locked tzdata list in the validator."""
    timezone = document["components"]["schemas"]["CreateCoach"]["properties"]["timezone"]
    assert "enum" not in timezone and timezone["pattern"]
    for zone in ("Etc/GMT+0", "Asia/Kolkata", "America/Argentina/Buenos_Aires"):
        assert re.match(timezone["pattern"], zone)


def test_an_undeclared_error_answer_is_caught(document: dict[str, Any]) -> None:
    """The hook on the suite's API clients: an error a route does not declare fails its test."""
    assert undeclared(document, "POST", "/api/sessions/complete", 409, {"error": "enrollment_exists"})
    assert undeclared(document, "POST", "/api/sessions/complete", 418, {"error": "x"})
    assert undeclared(document, "POST", "/api/sessions/complete", 409, {"error": "session_locked"}) is None
    assert undeclared(document, "GET", "/api/sessions/available-slots", 404, {"error": "session_not_found"}) is None
    assert undeclared(document, "GET", "/no/such/path", 404, {"error": "not_found"}) is None


def test_the_webhook_declares_its_signed_request_body(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/webhooks/aisensy/cancel-response"]["post"]
    body = operation["requestBody"]
    assert body["required"] and "X-AiSensy-Signature" in body["description"]
    schemas = body["content"]["application/json"]["schema"]["anyOf"]
    assert {s["title"] for s in schemas} == {"CloudApiEnvelope", "AiSensyEnvelope"}
    assert {"200", "400", "401", "413"} <= set(operation["responses"])


async def test_a_body_that_is_not_utf8_answers_a_documented_code(stack: Stack) -> None:
    response = await stack.http.post(
        "/api/parents", headers=ADMIN | {"Content-Type": "application/json"}, content=b'{"name": "\xff"}'
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "malformed_payload"
