"""The portal's own HS256 tokens: iat required, a bounded lifetime, no iat from the future, a canonical sub."""

import time
from datetime import timedelta
from typing import Any
from uuid import uuid4

import jwt
import pytest

from coach_sessions import auth
from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.statuses import Role

SECRET = "portal-token-test-" + "s" * 40


def _signed(**claims: Any) -> str:
    now = int(time.time())
    base: dict[str, Any] = {"sub": str(uuid4()), "role": "coach", "iat": now, "exp": now + 3600}
    return jwt.encode({k: v for k, v in (base | claims).items() if v is not None}, SECRET, algorithm="HS256")


def _refused(token: str, **kwargs: Any) -> None:
    with pytest.raises(DomainError) as refused:
        auth.verify_token(SECRET, token, **kwargs)
    assert (refused.value.code, refused.value.detail) == (ErrorCode.UNAUTHORIZED, auth.UNAUTHORIZED_DETAIL)


def test_a_well_formed_token_verifies() -> None:
    subject = uuid4()
    assert auth.verify_token(SECRET, _signed(sub=str(subject))) == auth.Principal(subject, Role.COACH)


def test_a_token_without_iat_is_refused() -> None:
    _refused(_signed(iat=None))
    _refused(_signed(iat="1700000000"))  # a string is not a NumericDate


def test_a_lifetime_over_the_maximum_is_refused() -> None:
    now = int(time.time())
    _refused(_signed(iat=now, exp=253402300799))  # exp in the year 9999
    _refused(_signed(iat=now, exp=now + 25 * 3600))  # the default maximum is 24h
    assert auth.verify_token(SECRET, _signed(iat=now, exp=now + 24 * 3600))
    _refused(_signed(iat=now, exp=now + 3600), max_ttl=timedelta(minutes=30))
    # the maximum is part of the cache key: a token remembered under a longer one is checked again
    token = _signed(iat=now, exp=now + 7200)
    assert auth.verify_token(SECRET, token, max_ttl=timedelta(hours=3))
    _refused(token, max_ttl=timedelta(hours=1))


def test_an_iat_in_the_future_is_refused_beyond_the_leeway() -> None:
    now = int(time.time())
    _refused(_signed(iat=now + 120, exp=now + 3600))
    assert auth.verify_token(SECRET, _signed(iat=now + 10, exp=now + 3600))  # clock skew within the leeway


@pytest.mark.parametrize(
    "spelling",
    [
        lambda u: str(u).upper(),
        lambda u: "{" + str(u) + "}",
        lambda u: "urn:uuid:" + str(u),
        lambda u: u.hex,
        lambda u: "not-a-uuid",
        lambda u: 12345,
    ],
)
def test_a_non_canonical_sub_is_refused(spelling: Any) -> None:
    _refused(_signed(sub=spelling(uuid4())))


def test_mint_token_refuses_a_ttl_over_the_maximum() -> None:
    with pytest.raises(ValueError, match="AUTH_TOKEN_MAX_TTL"):
        auth.mint_token(SECRET, uuid4(), Role.COACH, timedelta(hours=25))
    with pytest.raises(ValueError):
        auth.mint_token(SECRET, uuid4(), Role.COACH, timedelta(hours=2), max_ttl=timedelta(hours=1))
    token = auth.mint_token(SECRET, uuid4(), Role.ADMIN, timedelta(hours=2), max_ttl=timedelta(hours=2))
    assert auth.verify_token(SECRET, token, max_ttl=timedelta(hours=2)).is_admin
