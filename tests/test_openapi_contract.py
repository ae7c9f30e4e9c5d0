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
            schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
            assert set(schema["properties"]) == {"error", "detail", "fields"}, (method, path)
            assert "validation_error" in schema["properties"]["error"]["enum"]


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
                codes = response["content"]["application/json"]["schema"]["properties"]["error"]["enum"]
                assert codes == sorted(c for c, s in HTTP_STATUS.items() if s == int(status)), (method, path)


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
