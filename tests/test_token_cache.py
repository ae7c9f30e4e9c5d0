"""verify_token remembers tokens that verified; expiry is still checked on every use."""

import time
from datetime import timedelta
from uuid import uuid4

import pytest

from coach_sessions import auth
from coach_sessions.errors import DomainError
from coach_sessions.statuses import Role

SECRET = "token-cache-test-" + "s" * 40


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = auth.mint_token(SECRET, uuid4(), Role.COACH, timedelta(minutes=5))
    principal = auth.verify_token(SECRET, token)
    assert auth.verify_token(SECRET, token) == principal
    hits = auth._verified.cache_info().hits
    assert hits >= 1  # the second use did not verify the signature again
    later = time.time() + 301
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(DomainError):
        auth.verify_token(SECRET, token)


def test_a_token_that_failed_is_checked_again_and_another_secret_is_another_entry() -> None:
    token = auth.mint_token(SECRET, uuid4(), Role.ADMIN, timedelta(minutes=5))
    for _ in range(2):  # a failure is not remembered: each attempt verifies (and fails) again
        with pytest.raises(DomainError):
            auth.verify_token("another-secret-" + "x" * 40, token)
    assert auth.verify_token(SECRET, token).is_admin
    with pytest.raises(DomainError):
        auth.verify_token("another-secret-" + "x" * 40, token)  # the cached entry is per secret
