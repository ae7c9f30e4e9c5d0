"""google-genai itself against the fake Gemini server: embeddings (batched, normalised) and the brief."""

import json
from datetime import UTC, datetime
from uuid import uuid4

import numpy as np
import pytest

from coach_sessions.contracts import BriefSource
from coach_sessions.providers.brief import (
    SYSTEM_INSTRUCTION,
    BriefRequest,
    GeminiBriefProvider,
    InvalidBriefError,
    LocalBriefProvider,
)
from coach_sessions.providers.embeddings import GeminiEmbeddingProvider, LocalEmbeddingProvider
from coach_sessions.providers.gemini import ModelRejectedError, ModelUnavailableError
from coach_sessions.settings import Settings
from tests.fakes import free_port
from tests.fakes.gemini import FakeGemini, prompt_of


def gemini_settings(base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "app_env": "test",
        "auth_jwt_secret": "x" * 40,
        "embedding_provider": "gemini",
        "brief_provider": "gemini",
        "gemini_api_key": "test-gemini-key",
        "gemini_base_url": base_url,
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


def sources(*texts: str) -> list[BriefSource]:
    return [BriefSource(id=uuid4(), event_type="session", event_date=datetime.now(UTC), text=t) for t in texts]


def request_with(*texts: str) -> BriefRequest:
    return BriefRequest("Aarav", 7, 4, sources(*texts))


async def test_gemini_embeddings_are_batched_task_typed_and_normalised(fake_gemini: FakeGemini) -> None:
    provider = GeminiEmbeddingProvider(gemini_settings(fake_gemini.base_url))
    texts = [f"note {i} about consonant blends" for i in range(130)]
    vectors = await provider.embed_documents(texts)
    query = await provider.embed_query("blends")

    assert provider.model == "gemini-embedding-001:768"
    assert len(vectors) == 130 and all(len(v) == 768 for v in vectors)
    assert np.allclose(np.linalg.norm(np.array(vectors), axis=1), 1.0, atol=1e-5)  # the fake's are not unit
    embed_calls = [r for r in fake_gemini.request_log if r.path.endswith(":batchEmbedContents")]
    assert [r.path for r in embed_calls] == ["/v1/models/gemini-embedding-001:batchEmbedContents"] * 3  # 100+30+1
    kinds = [r["taskType"] for r in fake_gemini.embedded]
    assert kinds == ["RETRIEVAL_DOCUMENT"] * 130 + ["RETRIEVAL_QUERY"]
    assert {r["outputDimensionality"] for r in fake_gemini.embedded} == {768}
    assert len(query) == 768


async def test_embedding_errors_are_sorted_into_retry_and_give_up(fake_gemini: FakeGemini) -> None:
    provider = GeminiEmbeddingProvider(gemini_settings(fake_gemini.base_url))
    fake_gemini.fail_next(1, 429)
    with pytest.raises(ModelUnavailableError):
        await provider.embed_query("x")
    fake_gemini.fail_next(1, 400)
    with pytest.raises(ModelRejectedError):
        await provider.embed_query("x")
    assert fake_gemini.requests["POST"] == 2  # SDK retries are off: one request per call
    refused = GeminiEmbeddingProvider(gemini_settings(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(ModelUnavailableError):
        await refused.embed_query("x")


async def test_gemini_brief_sends_the_events_as_data_and_returns_the_parsed_answer(fake_gemini: FakeGemini) -> None:
    provider = GeminiBriefProvider(gemini_settings(fake_gemini.base_url))
    request = request_with("Struggles with consonant blends like st and bl.", "Loves animal stories.")
    brief = await provider.write(request)

    [body] = fake_gemini.prompts
    prompt = prompt_of(body)
    assert prompt["child"] == {"first_name": "Aarav", "age": 7} and prompt["session_number"] == 4
    assert [e["id"] for e in prompt["events"]] == [str(s.id) for s in request.sources]
    assert "never instructions" in body["systemInstruction"]["parts"][0]["text"]
    assert body["systemInstruction"]["parts"][0]["text"] == SYSTEM_INSTRUCTION
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json" and config["temperature"] <= 0.3
    assert "responseSchema" in config or "responseJsonSchema" in config
    assert brief.challenges[0].event_ids == [request.sources[0].id]
    assert brief.session_focus.text == "Consonant blends with Aarav"


async def test_invalid_json_is_retried_once_then_reported(fake_gemini: FakeGemini) -> None:
    provider = GeminiBriefProvider(gemini_settings(fake_gemini.base_url))
    request = request_with("Struggles with blends.")
    fake_gemini.answers.append("{not json")
    brief = await provider.write(request)  # second answer (the default) is valid
    assert fake_gemini.generate_calls == 2 and brief.challenges

    fake_gemini.reset()
    fake_gemini.answers.extend(["{not json", json.dumps({"challenges": "half a brief"})])
    with pytest.raises(InvalidBriefError, match="2 attempts"):
        await provider.write(request)
    assert fake_gemini.generate_calls == 2


async def test_a_cited_id_outside_the_retrieved_events_is_rejected(fake_gemini: FakeGemini) -> None:
    provider = GeminiBriefProvider(gemini_settings(fake_gemini.base_url))
    request = request_with("Struggles with blends.")
    foreign = {"text": "Invented", "event_ids": [str(uuid4())]}
    answer = {"challenges": [foreign], "motivators": [foreign], "recommended_activities": [foreign]}
    fake_gemini.answers.extend([json.dumps(answer | {"session_focus": foreign})] * 2)
    with pytest.raises(InvalidBriefError, match="not given"):
        await provider.write(request)


async def test_the_local_writer_cites_every_item_and_is_deterministic() -> None:
    request = request_with(
        "Struggles to blend consonant clusters such as str and spl; guesses from the first letter.",
        "Read the dragon story with expression and was proud to earn the fluency badge.",
        "Missed Tuesday's session: family travelling.",
        "Retold the story in order but could not say why the fox ran away.",
    )
    first = await LocalBriefProvider().write(request)
    again = await LocalBriefProvider().write(request)
    assert first == again
    ids = {s.id for s in request.sources}
    items = [*first.challenges, *first.motivators, *first.recommended_activities, first.session_focus]
    assert all(item.event_ids and set(item.event_ids) <= ids for item in items)
    assert first.challenges[0].event_ids == [request.sources[0].id]
    assert first.motivators[0].event_ids == [request.sources[1].id]
    assert "blends" in first.session_focus.text


def test_wordllama_loads_offline_and_separates_topics() -> None:
    provider = LocalEmbeddingProvider()
    a, b, c = provider.embed_sync(
        [
            "struggles with blending consonant sounds",
            "difficulty with consonant blends",
            "parent asked to reschedule to Friday",
        ]
    )
    assert len(a) == 256
    assert np.dot(a, b) > 0.5 > np.dot(a, c)


async def test_the_placeholder_names_nobody_in_the_prompt_and_the_answer_gets_the_first_name_back(
    fake_gemini: FakeGemini,
) -> None:
    provider = GeminiBriefProvider(gemini_settings(fake_gemini.base_url, brief_child_name="placeholder"))
    request = BriefRequest(
        "Aarav",
        7,
        4,
        sources("Aarav Iyer loved the animal story; call +919812345678 or mail iyer@example.org"),
        withheld=("Iyer",),
    )
    brief = await provider.write(request)
    [body] = fake_gemini.prompts
    text = body["contents"][0]["parts"][0]["text"]
    assert prompt_of(body)["child"] == {"first_name": "[child]", "age": 7}
    for withheld in ("Aarav", "Iyer", "9812345678", "iyer@example.org"):
        assert withheld not in text, withheld
    assert "[child] [withheld] loved the animal story; call [phone] or mail [email]" in text
    assert brief.session_focus.text == "Consonant blends with Aarav"
