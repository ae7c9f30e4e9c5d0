"""Identity-provider tokens against a JWKS served from a real local HTTP server (the real httpx path)."""

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import uuid4

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from coach_sessions.auth import UNAUTHORIZED_DETAIL
from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.provider_tokens import ProviderIdentity, ProviderTokenVerifier
from coach_sessions.settings import Settings
from tests.jwks_support import FromNow, JwksServer, resolve

ISSUER = "https://project-ref.supabase.co/auth/v1"
AUDIENCE = "authenticated"
PROVIDER_SECRET = "supabase-legacy-jwt-secret-" + "z" * 40
RSA_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_A = ec.generate_private_key(ec.SECP256R1())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[JwksServer]:
    jwks = JwksServer()
    jwks.publish((RSA_A, "rsa-a"), (EC_A, "ec-a"))
    yield jwks
    jwks.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def verifier(server: JwksServer, clock: Clock) -> AsyncIterator[ProviderTokenVerifier]:
    made = ProviderTokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=server.url, clock=clock)
    yield made
    await made.aclose()


def _claims(**overrides: Any) -> dict[str, Any]:
    """A Supabase access token's claims; an override of None drops that claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(uuid4()),
        "aud": AUDIENCE,
        "exp": now + 3600,
        "iat": now,
        "email": "coach@example.org",
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}],
        "session_id": str(uuid4()),
        "is_anonymous": False,
    }
    return {k: v for k, v in (claims | overrides).items() if v is not None}


def _token(key: Any = RSA_A, kid: str | None = "rsa-a", algorithm: str = "RS256", **overrides: Any) -> str:
    headers = {"kid": kid} if kid else {}
    return jwt.encode(_claims(**overrides), key, algorithm=algorithm, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_signed(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token PyJWT would refuse to make: alg none, or HS256 keyed with a public key."""
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return signing_input + "." + _b64(signature)


async def _refused(verifier: ProviderTokenVerifier, token: str) -> None:
    with pytest.raises(DomainError) as refused:
        await verifier.verify(token)
    assert (refused.value.code, refused.value.detail) == (ErrorCode.UNAUTHORIZED, UNAUTHORIZED_DETAIL)


async def test_a_supabase_shaped_token_verifies_to_its_identity(verifier: ProviderTokenVerifier) -> None:
    subject = str(uuid4())
    identity = await verifier.verify(_token(sub=subject))
    assert identity == ProviderIdentity(subject=subject, email="coach@example.org")


async def test_rs256_and_es256_both_verify(verifier: ProviderTokenVerifier, server: JwksServer) -> None:
    assert (await verifier.verify(_token(RSA_A, "rsa-a", "RS256"))).email == "coach@example.org"
    assert (await verifier.verify(_token(EC_A, "ec-a", "ES256"))).email == "coach@example.org"
    assert server.requests == 1  # one fetch served both
    # A key checks only tokens of its own algorithm, whatever the token's header says.
    await _refused(verifier, _token(EC_A, "rsa-a", "ES256"))


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "another-audience"},
        {"aud": None},
        {"iss": "https://other-project.supabase.co/auth/v1"},
        {"iss": None},
        {"exp": FromNow(-120)},  # expired beyond the leeway
        {"exp": None},
        {"exp": FromNow(3600, text=True)},  # a string, not a NumericDate
        {"nbf": FromNow(600)},  # not valid yet
        {"iat": FromNow(600)},  # issued in the future
        {"sub": None},
        {"sub": ""},
        {"is_anonymous": True},
        {"role": "anon"},
        {"role": "service_role"},
    ],
    ids=lambda overrides: ",".join(f"{k}={v!r}" for k, v in overrides.items()),
)
async def test_bad_claims_are_refused(verifier: ProviderTokenVerifier, overrides: dict[str, Any]) -> None:
    await _refused(verifier, _token(**resolve(overrides)))


async def test_clock_skew_within_the_leeway_is_accepted(verifier: ProviderTokenVerifier) -> None:
    now = int(time.time())
    assert await verifier.verify(_token(nbf=now + 10, iat=now + 10))
    assert await verifier.verify(_token(exp=now - 10))


async def test_an_unverified_email_is_dropped_and_the_subject_kept(verifier: ProviderTokenVerifier) -> None:
    subject = str(uuid4())
    assert await verifier.verify(_token(sub=subject, email_verified=False)) == ProviderIdentity(subject, None)
    assert (await verifier.verify(_token(email_verified=True))).email == "coach@example.org"
    assert (await verifier.verify(_token(email=None))).email is None
    # A role other than Supabase's refused ones is not required to be "authenticated".
    assert await verifier.verify(_token(role=None))


async def test_alg_none_and_a_missing_kid_are_refused(verifier: ProviderTokenVerifier) -> None:
    await _refused(verifier, _hand_signed({"alg": "none", "typ": "JWT", "kid": "rsa-a"}, _claims(), None))
    await _refused(verifier, _hand_signed({"alg": "none", "typ": "JWT"}, _claims(), None))
    await _refused(verifier, _token(kid=None))
    await _refused(verifier, "not-a-jwt")


@pytest.mark.parametrize("with_provider_secret", [False, True])
async def test_hs256_forged_with_the_rsa_public_key_is_refused(server: JwksServer, with_provider_secret: bool) -> None:
    pem = RSA_A.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = _hand_signed({"alg": "HS256", "typ": "JWT", "kid": "rsa-a"}, _claims(), pem)
    verifier = ProviderTokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=server.url,
        provider_secret=PROVIDER_SECRET if with_provider_secret else "",
    )
    try:
        await verifier.verify(_token())  # the keys are in the cache: the forgery has them to aim at
        await _refused(verifier, forged)
    finally:
        await verifier.aclose()


async def test_an_unknown_kid_causes_one_refetch(
    verifier: ProviderTokenVerifier, server: JwksServer, clock: Clock
) -> None:
    await verifier.verify(_token())
    assert server.requests == 1
    clock.now += 31
    server.publish((RSA_A, "rsa-a"), (RSA_B, "rsa-b"))
    assert await verifier.verify(_token(RSA_B, "rsa-b"))  # unknown kid: fetched again, found
    assert server.requests == 2
    clock.now += 31
    await _refused(verifier, _token(RSA_B, "never-published"))  # one refetch, still unknown: refused
    await _refused(verifier, _token(RSA_B, "never-published"))  # within the interval: no second one
    assert server.requests == 3


async def test_a_rotated_key_verifies_and_the_retired_one_is_refused(
    verifier: ProviderTokenVerifier, server: JwksServer, clock: Clock
) -> None:
    old_token = _token(RSA_A, "rsa-a")
    await verifier.verify(old_token)
    server.publish((RSA_B, "rsa-b"))  # the provider rotates: new kid in, old kid out
    clock.now += 31
    assert await verifier.verify(_token(RSA_B, "rsa-b"))  # same verifier, no restart
    await _refused(verifier, old_token)
    assert server.requests == 2


async def test_a_retired_key_stops_verifying_after_the_max_age_without_a_new_kid(
    verifier: ProviderTokenVerifier, server: JwksServer, clock: Clock
) -> None:
    old_token = _token(RSA_A, "rsa-a")
    await verifier.verify(old_token)
    server.publish((RSA_B, "rsa-b"))
    clock.now += 60
    assert await verifier.verify(old_token)  # keys younger than the max age are used as they are
    assert server.requests == 1
    clock.now += 600
    await _refused(verifier, old_token)  # old keys: fetched again, and rsa-a is gone
    assert server.requests == 2


async def test_a_stream_of_unknown_kids_costs_at_most_one_fetch_per_interval(
    verifier: ProviderTokenVerifier, server: JwksServer, clock: Clock
) -> None:
    await verifier.verify(_token())
    clock.now += 31
    for _ in range(50):
        await _refused(verifier, _token(RSA_B, f"forged-{uuid4()}"))
    assert server.requests == 2  # the warm-up, then one for the whole stream
    assert await verifier.verify(_token())  # the real key still works meanwhile


async def test_concurrent_verifications_on_a_cold_cache_share_one_fetch(
    verifier: ProviderTokenVerifier, server: JwksServer
) -> None:
    server.delay = 0.2
    tokens = [_token() if i % 2 else _token(EC_A, "ec-a", "ES256") for i in range(10)]
    identities = await asyncio.gather(*(verifier.verify(token) for token in tokens))
    assert len(identities) == 10
    assert server.requests == 1


async def test_the_cached_keys_still_verify_while_the_jwks_server_is_down(
    verifier: ProviderTokenVerifier, server: JwksServer, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await verifier.verify(_token())
    server.stop()
    clock.now += 700  # keys past their max age: a refetch is tried and fails
    with caplog.at_level(logging.WARNING, logger="coach_sessions.provider_tokens"):
        assert await verifier.verify(_token())
        assert await verifier.verify(_token(EC_A, "ec-a", "ES256"))
    ours = [r.getMessage() for r in caplog.records if r.name == "coach_sessions.provider_tokens"]
    assert len(ours) == 1 and "keeping the cached keys" in ours[0]  # one failed fetch per interval, one line


async def test_with_no_keys_and_the_server_down_tokens_are_refused_and_it_is_logged_without_the_token(
    server: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.stop()
    verifier = ProviderTokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=server.url)
    token = _token(sub="a-subject-nobody-logs", email="secret-person@example.org")
    try:
        with caplog.at_level(logging.WARNING, logger="coach_sessions.provider_tokens"):
            await _refused(verifier, token)
            await _refused(verifier, token)  # no second fetch within the interval, so no second line
    finally:
        await verifier.aclose()
    assert len([r for r in caplog.records if r.name == "coach_sessions.provider_tokens"]) == 1
    logged = caplog.text
    assert "no keys" in logged
    for secret in (token, token.split(".")[1], "a-subject-nobody-logs", "secret-person@example.org"):
        assert secret not in logged


async def test_legacy_hs256_with_the_provider_secret(server: JwksServer) -> None:
    verifier = ProviderTokenVerifier(issuer=ISSUER, audience=AUDIENCE, provider_secret=PROVIDER_SECRET)
    try:
        subject = str(uuid4())
        token = _token(PROVIDER_SECRET, None, "HS256", sub=subject)
        assert await verifier.verify(token) == ProviderIdentity(subject, "coach@example.org")
        await _refused(verifier, _token("another-secret-" + "q" * 40, None, "HS256"))
        await _refused(verifier, _token())  # no JWKS configured: an RS256 token has no key to check it
        await _refused(verifier, _token(PROVIDER_SECRET, None, "HS256", is_anonymous=True))
    finally:
        await verifier.aclose()
    assert server.requests == 0


async def test_hs256_is_refused_when_no_provider_secret_is_configured(verifier: ProviderTokenVerifier) -> None:
    await _refused(verifier, _token(PROVIDER_SECRET, None, "HS256"))


def _settings(**overrides: Any) -> Settings:
    return Settings(app_env="production", auth_jwt_secret="portal-secret-" + "p" * 40, **overrides)


def test_settings_build_the_verifier_only_when_a_provider_is_configured() -> None:
    assert ProviderTokenVerifier.from_settings(_settings()) is None
    configured = _settings(auth_jwks_url=ISSUER + "/.well-known/jwks.json", auth_issuer=ISSUER)
    assert configured.auth_audience == "authenticated"
    assert isinstance(ProviderTokenVerifier.from_settings(configured), ProviderTokenVerifier)


@pytest.mark.parametrize(
    "overrides",
    [
        {"auth_jwks_url": ISSUER + "/.well-known/jwks.json"},  # no issuer
        {"auth_provider_jwt_secret": PROVIDER_SECRET},  # no issuer
        {"auth_jwks_url": ISSUER + "/.well-known/jwks.json", "auth_issuer": ISSUER, "auth_audience": ""},
        {"auth_jwks_url": "http://project-ref.supabase.co/auth/v1/.well-known/jwks.json", "auth_issuer": ISSUER},
        {"auth_jwks_url": "ftp://example.org/jwks.json", "auth_issuer": ISSUER},
        {"auth_provider_jwt_secret": "short", "auth_issuer": ISSUER},
        {"auth_provider_jwt_secret": "portal-secret-" + "p" * 40, "auth_issuer": ISSUER},  # the portal's own
        {"auth_token_ttl": "25h"},  # over AUTH_TOKEN_MAX_TTL's 24h
        {"auth_token_ttl": "2h", "auth_token_max_ttl": "1h"},
    ],
)
def test_settings_refuse_an_incomplete_or_unsafe_provider_configuration(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _settings(**overrides)


def test_a_plain_http_jwks_url_is_allowed_in_development() -> None:
    settings = Settings(app_env="development", auth_jwks_url="http://127.0.0.1:9999/jwks.json", auth_issuer=ISSUER)
    assert settings.auth_jwks_url.startswith("http://")
