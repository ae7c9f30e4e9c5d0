"""WhatsApp providers against a real HTTP fake of AiSensy's campaign API."""

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from coach_sessions.providers.whatsapp import (
    SOURCE,
    AiSensyProvider,
    LocalWhatsAppProvider,
    WhatsAppMessage,
    WhatsAppNotSentError,
    WhatsAppRejectedError,
    WhatsAppUncertainError,
    _message_id,
    build_whatsapp_provider,
)
from coach_sessions.settings import Settings
from tests.fakes import free_port
from tests.fakes.aisensy import FakeAiSensy

READ_TIMEOUT = 0.3


def _settings(url: str, api_key: str = "test-aisensy-key") -> Settings:
    return Settings(app_env="test", whatsapp_provider="aisensy", aisensy_api_key=api_key, aisensy_api_url=url)


def _message(**overrides: object) -> WhatsAppMessage:
    values: dict[str, object] = {
        "destination": "+919812345678",
        "user_name": "Priya Sharma",
        "campaign_name": "session_reminder",
        "template_params": ["Priya", "Aarav", "Tue 4 Mar, 5:00 PM"],
        "idempotency_key": "reminder:abc",
    }
    values.update(overrides)
    return WhatsAppMessage.model_validate(values)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0, read=READ_TIMEOUT)) as client:
        yield client


@pytest.fixture
def aisensy(fake_aisensy: FakeAiSensy, http: httpx.AsyncClient) -> AiSensyProvider:
    provider = build_whatsapp_provider(_settings(fake_aisensy.api_url, fake_aisensy.api_key), http)
    assert isinstance(provider, AiSensyProvider)
    return provider


async def test_sends_the_documented_body_and_returns_the_message_id(
    aisensy: AiSensyProvider, fake_aisensy: FakeAiSensy
) -> None:
    result = await aisensy.send(_message())

    assert fake_aisensy.messages == [
        {
            "apiKey": "test-aisensy-key",
            "campaignName": "session_reminder",
            "destination": "+919812345678",
            "userName": "Priya Sharma",
            "templateParams": ["Priya", "Aarav", "Tue 4 Mar, 5:00 PM"],
            "source": SOURCE,
        }
    ]
    [request] = fake_aisensy.request_log
    assert request.method == "POST" and request.path == "/campaign/t1/api/v2"
    assert request.headers["content-type"] == "application/json"
    assert result.provider == "aisensy"
    assert result.provider_message_id == fake_aisensy.message_ids[0]


async def test_unicode_params_survive(aisensy: AiSensyProvider, fake_aisensy: FakeAiSensy) -> None:
    params = ["नमस्ते प्रिया", "आरव", "📚✨ पढ़ाई का समय"]
    await aisensy.send(_message(template_params=params, user_name="प्रिया शर्मा"))

    assert fake_aisensy.messages[0]["templateParams"] == params
    assert json.loads(fake_aisensy.request_log[0].body.decode("utf-8"))["userName"] == "प्रिया शर्मा"


async def test_bad_api_key_is_rejected(fake_aisensy: FakeAiSensy, http: httpx.AsyncClient) -> None:
    provider = AiSensyProvider(_settings(fake_aisensy.api_url, api_key="wrong"), http)
    with pytest.raises(WhatsAppRejectedError, match="Invalid API Key") as caught:
        await provider.send(_message())
    assert caught.value.status_code == 401
    assert fake_aisensy.messages == []


async def test_unknown_campaign_and_param_count_are_rejected(
    aisensy: AiSensyProvider, fake_aisensy: FakeAiSensy
) -> None:
    fake_aisensy.campaigns = {"session_reminder": 3}
    with pytest.raises(WhatsAppRejectedError, match="Campaign does not exist") as caught:
        await aisensy.send(_message(campaign_name="nope"))
    assert caught.value.status_code == 400
    with pytest.raises(WhatsAppRejectedError, match="expected 3, got 1"):
        await aisensy.send(_message(template_params=["only one"]))
    assert fake_aisensy.messages == []


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_throttling_and_server_errors_are_not_sent(
    aisensy: AiSensyProvider, fake_aisensy: FakeAiSensy, status: int
) -> None:
    fake_aisensy.fail_next(1, status=status)
    with pytest.raises(WhatsAppNotSentError) as caught:
        await aisensy.send(_message())
    assert caught.value.status_code == status

    await aisensy.send(_message())  # the retry goes through
    assert len(fake_aisensy.messages) == 1


async def test_outage_until_recovery(aisensy: AiSensyProvider, fake_aisensy: FakeAiSensy) -> None:
    fake_aisensy.outage(503)
    for _ in range(3):
        with pytest.raises(WhatsAppNotSentError):
            await aisensy.send(_message())
    fake_aisensy.recover()
    await aisensy.send(_message())
    assert len(fake_aisensy.messages) == 1


async def test_read_timeout_is_uncertain_because_it_may_have_been_sent(
    aisensy: AiSensyProvider, fake_aisensy: FakeAiSensy
) -> None:
    fake_aisensy.slow(READ_TIMEOUT * 10)
    with pytest.raises(WhatsAppUncertainError, match="ReadTimeout"):
        await aisensy.send(_message())
    assert len(fake_aisensy.messages) == 1  # AiSensy did take it


async def test_connection_dropped_after_sending_is_uncertain(
    aisensy: AiSensyProvider, fake_aisensy: FakeAiSensy
) -> None:
    fake_aisensy.drop_next(1)
    with pytest.raises(WhatsAppUncertainError):
        await aisensy.send(_message())


async def test_gateway_timeout_is_uncertain(aisensy: AiSensyProvider, fake_aisensy: FakeAiSensy) -> None:
    fake_aisensy.fail_next(1, status=504)
    with pytest.raises(WhatsAppUncertainError) as caught:
        await aisensy.send(_message())
    assert caught.value.status_code == 504


async def test_connection_refused_is_not_sent(http: httpx.AsyncClient) -> None:
    provider = AiSensyProvider(_settings(f"http://127.0.0.1:{free_port()}/campaign/t1/api/v2"), http)
    with pytest.raises(WhatsAppNotSentError, match="ConnectError"):
        await provider.send(_message())


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(200, json={"success": "true", "submitted_message_id": "abc"}), "abc"),
        (httpx.Response(200, json={"messageId": "m-1"}), "m-1"),
        (httpx.Response(200, json={"data": {"id": 42}}), "42"),
        (httpx.Response(200, json={"success": True}), None),
        (httpx.Response(200, json=["unexpected"]), None),
        (httpx.Response(200, text="OK"), None),
    ],
)
def test_message_id_is_taken_from_whatever_field_carries_it(response: httpx.Response, expected: str | None) -> None:
    assert _message_id(response) == expected


def test_message_requires_e164_destination() -> None:
    with pytest.raises(ValidationError):
        _message(destination="919812345678")


async def test_local_provider_logs_and_sends_nothing(caplog: pytest.LogCaptureFixture, http: httpx.AsyncClient) -> None:
    provider = build_whatsapp_provider(Settings(app_env="test"), http)
    assert isinstance(provider, LocalWhatsAppProvider)
    with caplog.at_level(logging.INFO, logger="coach_sessions.providers.whatsapp"):
        result = await provider.send(_message())
    assert result.provider == "local"
    assert result.provider_message_id is not None and result.provider_message_id.startswith("local-")
    [line] = caplog.records
    assert line.getMessage() == "LOCAL WHATSAPP (not sent): template=session_reminder"
    assert line.param_count == len(_message().template_params)  # type: ignore[attr-defined]
    # Ids only: not the number, the recipient's name or the parameters (docs/security.md).
    assert "9812345678" not in caplog.text and _message().user_name not in caplog.text
    assert not [p for p in _message().template_params if p in caplog.text]


def test_aisensy_requires_an_api_key(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="AISENSY_API_KEY"):
        AiSensyProvider(_settings("http://127.0.0.1:1/x", api_key=""), http)
