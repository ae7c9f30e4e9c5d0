"""Identity-provider tokens (Supabase Auth's shape) through the real API: the app built from settings as in
production (AUTH_JWKS_URL at a real local JWKS server, AUTH_ISSUER, AUTH_AUDIENCE=authenticated), the one
principal lookup behind it, and every refusal the same 401 as a forged portal token's."""

import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from temporalio.testing import WorkflowEnvironment

from coach_sessions.auth import mint_token
from coach_sessions.provider_tokens import ProviderTokenVerifier
from coach_sessions.repositories.principals import PrincipalRepository
from coach_sessions.statuses import Role
from tests.factories import make_family
from tests.helpers import api_client, token_for
from tests.jwks_support import FromNow, JwksServer, resolve

ISSUER = "https://project-ref.supabase.co/auth/v1"
AUDIENCE = "authenticated"
PROVIDER_SECRET = "supabase-legacy-jwt-secret-" + "k" * 40
RSA_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Clock:
    """The verifier's monotonic clock, moved by a test instead of waiting out the refetch interval."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    server.publish((RSA_A, "rsa-a"))
    yield server
    server.stop()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The app builds its verifier from settings as always (ProviderTokenVerifier.from_settings), with this clock."""
    moved = Clock()

    class ClockedVerifier(ProviderTokenVerifier):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs, clock=moved)

    monkeypatch.setattr("api.services.ProviderTokenVerifier", ClockedVerifier)
    return moved


@pytest.fixture
async def http(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment, jwks: JwksServer, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(
        pool,
        temporal_env.client,
        f"provider-bearer-{uuid4()}",
        auth_jwks_url=jwks.url,
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
    ) as client:
        yield client


def _claims(**overrides: Any) -> dict[str, Any]:
    """A Supabase access token's claims (no email_verified: Supabase's carry none); None drops a claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(uuid4()),
        "aud": AUDIENCE,
        "exp": now + 3600,
        "iat": now,
        "email": f"nobody-{uuid4().hex[:8]}@example.org",
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


def _rs256(key: Any = RSA_A, kid: str = "rsa-a", **overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), key, algorithm="RS256", headers={"kid": kid})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _me(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get("/api/me", headers=_bearer(token))


async def _forged_portal_401(http: httpx.AsyncClient, coach_id: Any) -> httpx.Response:
    forged = mint_token("not-the-portal-secret-" + "f" * 40, coach_id, Role.COACH, timedelta(hours=1))
    answer = await _me(http, forged)
    assert answer.status_code == 401
    return answer


def _same_401(answer: httpx.Response, reference: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.content == reference.content  # byte for byte: nothing says which check failed
    assert answer.headers.get("www-authenticate") == reference.headers.get("www-authenticate")


async def test_a_supabase_token_whose_subject_is_a_coach_id_is_that_coach(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    coach = (await make_family(pool)).coach
    answer = await _me(http, _rs256(sub=str(coach.id)))  # its email is nobody's: the subject decides
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": str(coach.id), "role": "coach", "name": coach.name}
    children = await http.get("/api/coach/children", headers=_bearer(_rs256(sub=str(coach.id))))
    assert children.status_code == 200, children.text
    assert len(children.json()["children"]) == 1


async def test_an_unknown_subject_with_a_coach_email_is_that_coach(http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    coach = (await make_family(pool)).coach
    for email in (coach.email, coach.email.upper()):  # matched case-insensitively
        answer = await _me(http, _rs256(sub=str(uuid4()), email=email))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"id": str(coach.id), "role": "coach", "name": coach.name}
    # A subject that is not a uuid (another provider's) still finds the coach by email.
    assert (await _me(http, _rs256(sub="google-oauth2|1234567890", email=coach.email))).status_code == 200


async def test_an_admin_email_is_an_admin_who_may_do_admin_things(http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    email = f"admin-{uuid4().hex[:8]}@example.org"
    admin = await PrincipalRepository(pool).add_admin(name="Provider Admin", email=email)
    token = _rs256(email=email)
    answer = await _me(http, token)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": str(admin.id), "role": "admin", "name": "Provider Admin"}
    suffix = uuid4().hex[:8]
    created = await http.post(
        "/api/coaches", headers=_bearer(token), json={"name": "Via Provider", "email": f"via-{suffix}@example.org"}
    )
    assert created.status_code == 201, created.text
    # A coach's provider token is a coach's: the admin-only endpoint refuses it.
    coach = (await make_family(pool)).coach
    refused = await http.post(
        "/api/coaches",
        headers=_bearer(_rs256(sub=str(coach.id))),
        json={"name": "Not Allowed", "email": f"no-{suffix}@example.org"},
    )
    assert refused.status_code == 403, refused.text


async def test_an_admin_outranks_a_coach_with_the_same_email(http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    coach = (await make_family(pool)).coach
    admin = await PrincipalRepository(pool).add_admin(name="Both", email=coach.email)
    answer = await _me(http, _rs256(email=coach.email))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["id"], answer.json()["role"]) == (str(admin.id), "admin")


async def test_nobody_known_is_the_same_401_as_a_forged_portal_token(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    coach = (await make_family(pool)).coach
    reference = await _forged_portal_401(http, coach.id)
    _same_401(await _me(http, _rs256()), reference)  # unknown subject, unknown email: nobody is created
    _same_401(await _me(http, _rs256(email=None)), reference)
    assert (await _me(http, _rs256())).status_code == 401  # and still nobody on a second try


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "another-audience"},
        {"iss": "https://other-project.supabase.co/auth/v1"},
        {"exp": FromNow(-120)},  # expired beyond the leeway
        {"nbf": FromNow(600)},  # not valid yet
        {"role": "anon"},  # Supabase's public key's token, not a person
        {"is_anonymous": True},
    ],
    ids=lambda overrides: ",".join(f"{k}={v!r}" for k, v in overrides.items()),
)
async def test_a_bad_claim_is_the_same_401(
    http: httpx.AsyncClient, pool: asyncpg.Pool, overrides: dict[str, Any]
) -> None:
    coach = (await make_family(pool)).coach
    reference = await _forged_portal_401(http, coach.id)
    assert (await _me(http, _rs256(sub=str(coach.id), email=coach.email))).status_code == 200  # the control
    _same_401(await _me(http, _rs256(sub=str(coach.id), email=coach.email, **resolve(overrides))), reference)


async def test_a_rotated_key_is_taken_without_rebuilding_the_app_and_the_retired_one_refused(
    http: httpx.AsyncClient, pool: asyncpg.Pool, jwks: JwksServer, clock: Clock
) -> None:
    coach = (await make_family(pool)).coach
    reference = await _forged_portal_401(http, coach.id)
    old = _rs256(RSA_A, "rsa-a", sub=str(coach.id))
    assert (await _me(http, old)).status_code == 200
    jwks.publish((RSA_B, "rsa-b"))  # the provider rotates: the new kid in, the old one out
    clock.now += 31  # past the refetch interval (30 s) that rate-limits fetches for unknown kids
    new = _rs256(RSA_B, "rsa-b", sub=str(coach.id))
    answer = await _me(http, new)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == str(coach.id)
    _same_401(await _me(http, old), reference)  # the retired kid is gone with the refetched set
    assert jwks.requests == 2


async def test_an_unverified_email_alone_signs_nobody_in(http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    coach = (await make_family(pool)).coach
    reference = await _forged_portal_401(http, coach.id)
    _same_401(await _me(http, _rs256(email=coach.email, email_verified=False)), reference)
    # The subject is still the provider's word: a coach's own id with an unverified email is that coach.
    by_subject = await _me(http, _rs256(sub=str(coach.id), email=coach.email, email_verified=False))
    assert by_subject.status_code == 200, by_subject.text
    assert (await _me(http, _rs256(email=coach.email, email_verified=True))).status_code == 200


async def test_the_portal_own_tokens_still_work_beside_the_provider(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    coach = (await make_family(pool)).coach
    answer = await _me(http, token_for(coach.id))
    assert answer.status_code == 200, answer.text
    assert answer.json()["role"] == "coach"


async def test_legacy_hs256_with_the_provider_secret_maps_by_email(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment, jwks: JwksServer
) -> None:
    coach = (await make_family(pool)).coach
    async with api_client(
        pool,
        temporal_env.client,
        f"provider-legacy-{uuid4()}",
        auth_provider_jwt_secret=PROVIDER_SECRET,
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
    ) as http:
        reference = await _forged_portal_401(http, coach.id)
        legacy = jwt.encode(_claims(email=coach.email), PROVIDER_SECRET, algorithm="HS256")
        answer = await _me(http, legacy)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"id": str(coach.id), "role": "coach", "name": coach.name}
        wrong_secret = jwt.encode(_claims(email=coach.email), "another-secret-" + "q" * 40, algorithm="HS256")
        _same_401(await _me(http, wrong_secret), reference)
        _same_401(await _me(http, _rs256(sub=str(coach.id))), reference)  # no JWKS configured: no key for RS256
        assert (await _me(http, token_for(coach.id))).status_code == 200  # the portal's own, as before
    assert jwks.requests == 0
