"""A fake Gemini API (``v1``): ``models/{model}:generateContent`` and ``models/{model}:batchEmbedContents``.

It answers in the real REST shapes so ``google-genai`` runs unmodified against it (``HttpOptions(base_url=)``):
embeddings are deterministic and deliberately *unnormalised* (as Gemini's are below 3,072 dimensions);
``generateContent`` answers the queued texts in :attr:`answers`, else a valid brief citing the prompt's
events. Every prompt is kept in :attr:`prompts`; errors use Google's ``{"error": {code, message, status}}``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes import FakeHTTPServer, RecordedRequest, Reply, serving

_PATH = re.compile(r"^/v1(?:beta)?/models/([^/:]+):(generateContent|batchEmbedContents)$")
_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}
_STATUS |= {500: "INTERNAL", 503: "UNAVAILABLE"}


def fake_vector(text: str, dims: int) -> list[float]:
    """Deterministic, unnormalised: hashed words, scaled by 3 so a client that forgets to normalise shows it."""
    values = [0.0] * dims
    for word in re.findall(r"[a-z]+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        values[int.from_bytes(digest[:4], "big") % dims] += 3.0
    values[0] += 0.5  # never the zero vector
    return values


def valid_brief(prompt: dict[str, Any]) -> dict[str, Any]:
    ids = [e["id"] for e in prompt["events"]]
    first = ids[:1]
    return {
        "challenges": [
            {"text": f"Challenge from {e['text'][:40]}", "event_ids": [e["id"]]} for e in prompt["events"][:2]
        ],
        "motivators": [{"text": "Enjoys stories about animals", "event_ids": first}],
        "recommended_activities": [{"text": "Blend ladders with letter tiles", "event_ids": first}],
        "session_focus": {"text": f"Consonant blends with {prompt['child']['first_name']}", "event_ids": first},
    }


class FakeGemini(FakeHTTPServer):
    def __init__(self, api_key: str = "test-gemini-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.answers: list[str] = []  # raw texts to answer generateContent with, in order
        self.prompts: list[dict[str, Any]] = []  # generateContent request bodies
        self.embedded: list[dict[str, Any]] = []  # batchEmbedContents requests (each text's request)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.answers.clear()
            self.prompts.clear()
            self.embedded.clear()

    def error_payload(self, status: int, reason: str | None) -> Any:
        return {
            "error": {"code": status, "message": reason or "fake failure", "status": _STATUS.get(status, "UNKNOWN")}
        }

    @property
    def generate_calls(self) -> int:
        return len(self.prompts)

    def route(self, request: RecordedRequest) -> Reply:
        match = _PATH.match(request.path)
        if match is None or request.method != "POST":
            return Reply(404, self.error_payload(404, f"no route {request.method} {request.path}"))
        if request.headers.get("x-goog-api-key") != self.api_key:
            return Reply(400, self.error_payload(400, "API key not valid. Please pass a valid API key."))
        body = request.json()
        if match[2] == "batchEmbedContents":
            self.embedded.extend(body["requests"])
            embeddings = [
                {
                    "values": fake_vector(
                        " ".join(p["text"] for p in r["content"]["parts"]), r.get("outputDimensionality", 3072)
                    )
                }
                for r in body["requests"]
            ]
            return Reply(200, {"embeddings": embeddings})
        self.prompts.append(body)
        text = self.answers.pop(0) if self.answers else json.dumps(valid_brief(prompt_of(body)))
        return Reply(
            200,
            {
                "candidates": [
                    {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}
                ],
                "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 50, "totalTokenCount": 150},
                "modelVersion": match[1],
            },
        )


def prompt_of(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON prompt our provider sends (the user turn's text)."""
    return json.loads(body["contents"][0]["parts"][0]["text"])  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def _gemini_server() -> Iterator[FakeGemini]:
    with serving(FakeGemini()) as fake:
        yield fake


@pytest.fixture
def fake_gemini(_gemini_server: FakeGemini) -> Iterator[FakeGemini]:
    _gemini_server.reset()
    yield _gemini_server
    _gemini_server.reset()
