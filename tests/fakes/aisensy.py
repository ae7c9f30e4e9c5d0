"""A fake AiSensy campaign API: ``POST /campaign/t1/api/v2`` (and the older ``/campaign/t1/api``).

It validates the body the way the real API documents it (apiKey, a live campaign, destination with
country code, userName, templateParams as strings whose count matches the campaign's template),
answers errors as ``{"message": ...}`` JSON and records every accepted message in :attr:`messages`.
The success body carries ``submitted_message_id``; the real API documents only "HTTP 200".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes import FakeHTTPServer, RecordedRequest, Reply, serving

CAMPAIGN_PATHS = frozenset({"/campaign/t1/api/v2", "/campaign/t1/api"})
_DESTINATION = re.compile(r"^\+?[1-9][0-9]{7,14}$")
_DEFAULT_MESSAGES = {
    400: "Bad Request",
    401: "Invalid API Key",
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class FakeAiSensy(FakeHTTPServer):
    def __init__(self, api_key: str = "test-aisensy-key") -> None:
        super().__init__()
        self.api_key = api_key
        # Campaign name → number of template params. None accepts any campaign name.
        self.campaigns: dict[str, int] | None = None
        self.messages: list[dict[str, Any]] = []  # accepted request bodies, in order
        self.message_ids: list[str] = []  # the id answered for each accepted message

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/campaign/t1/api/v2"

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.campaigns = None
            self.messages.clear()
            self.message_ids.clear()

    def error_payload(self, status: int, reason: str | None) -> Any:
        return {"message": reason or _DEFAULT_MESSAGES.get(status, "Error")}

    def route(self, request: RecordedRequest) -> Reply:
        if request.path not in CAMPAIGN_PATHS:
            return Reply(404, {"message": "Not Found"})
        if request.method != "POST":
            return Reply(405, {"message": "Method Not Allowed"})
        try:
            body = request.json()
        except ValueError:
            return Reply(400, {"message": "Invalid JSON body"})
        if not isinstance(body, dict):
            return Reply(400, {"message": "Invalid JSON body"})
        if body.get("apiKey") != self.api_key:
            return Reply(401, {"message": "Invalid API Key"})
        if (problem := self._validate(body)) is not None:
            return Reply(400, {"message": problem})
        message_id = uuid.uuid4().hex
        self.messages.append(body)
        self.message_ids.append(message_id)
        return Reply(200, {"success": "true", "submitted_message_id": message_id})

    def _validate(self, body: dict[str, Any]) -> str | None:
        campaign = body.get("campaignName")
        if not isinstance(campaign, str) or not campaign:
            return "campaignName is required"
        destination = body.get("destination")
        if not isinstance(destination, str) or not _DESTINATION.match(destination):
            return "destination is required with country code"
        user_name = body.get("userName")
        if not isinstance(user_name, str) or not user_name.strip():
            return "userName is required"
        params = body.get("templateParams", [])
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return "templateParams must be an array of strings"
        if self.campaigns is not None:
            if campaign not in self.campaigns:
                return "Campaign does not exist."
            if len(params) != self.campaigns[campaign]:
                return (
                    f"Template params does not match the campaign: expected "
                    f"{self.campaigns[campaign]}, got {len(params)}"
                )
        return None


@pytest.fixture(scope="session")
def fake_aisensy_server() -> Iterator[FakeAiSensy]:
    """One fake AiSensy per test run (started once, port freed at the end)."""
    with serving(FakeAiSensy()) as fake:
        yield fake


@pytest.fixture
def fake_aisensy(fake_aisensy_server: FakeAiSensy) -> FakeAiSensy:
    """The shared fake, emptied of messages, faults and recorded requests for this test."""
    fake_aisensy_server.reset()
    return fake_aisensy_server
