"""Signing in: every way a caller proves who they are ends in one Principal, from one lookup.

- a bearer token of the portal's own (HS256, AUTH_JWT_SECRET: development and service-to-service);
- a bearer token from the identity provider (JWKS or a legacy provider secret: coach_sessions/provider_tokens.py);
- a page's server session (a cookie), started by an OpenID sign-in, the development page, or a token exchange.
Each failure is the same 401 (``not_signed_in``): a caller learns nothing about which check failed.
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from coach_sessions.auth import Principal, unauthorized, verify_token
from coach_sessions.errors import DomainError
from coach_sessions.provider_tokens import ProviderIdentity, ProviderTokenVerifier
from coach_sessions.repositories.principals import PrincipalRepository
from coach_sessions.repositories.sign_in_sessions import LiveSession, SignedInWith, SignInSessionRepository
from coach_sessions.settings import Settings
from coach_sessions.statuses import Role

# The idle clock is written at most this often: a page's burst of requests costs one write, not one each.
_TOUCH_EVERY = timedelta(minutes=1)


class SignInRefusal(StrEnum):
    """Why an OpenID sign-in found nobody to sign in; the sign-in page says each in words."""

    UNKNOWN_EMAIL = "unknown_email"
    UNVERIFIED_EMAIL = "unverified_email"


@dataclass(frozen=True)
class StartedSession:
    token: str  # the cookie's value; only its digest is stored
    csrf_token: str
    max_age: timedelta


class SignInService:
    def __init__(
        self,
        principals: PrincipalRepository,
        sessions: SignInSessionRepository,
        settings: Settings,
        provider_tokens: ProviderTokenVerifier | None,
    ) -> None:
        self._principals = principals
        self._sessions = sessions
        self._secret = settings.auth_jwt_secret
        self._max_ttl = settings.auth_token_max_ttl
        self._idle_timeout = settings.session_idle_timeout
        self._max_age = settings.session_max_age
        self._provider_tokens = provider_tokens

    async def principal_for_bearer(self, token: str) -> Principal:
        """A portal token names a row by id and role; a provider's token, a person by subject or email."""
        try:
            claimed = verify_token(self._secret, token, max_ttl=self._max_ttl)
        except DomainError:
            if self._provider_tokens is None:
                raise
            return await self._principal_for_provider(await self._provider_tokens.verify(token))
        principal = await self._principals.by_id(claimed.id, claimed.role)
        if principal is None:
            raise unauthorized()
        return principal

    async def principal_for_portal_token(self, token: str) -> Principal:
        """Only the portal's own tokens (the development link's exchange): never a provider's."""
        claimed = verify_token(self._secret, token, max_ttl=self._max_ttl)
        principal = await self._principals.by_id(claimed.id, claimed.role)
        if principal is None:
            raise unauthorized()
        return principal

    async def _principal_for_provider(self, identity: ProviderIdentity) -> Principal:
        principal = None
        subject = _as_uuid(identity.subject)
        if subject is not None:
            principal = await self._principals.by_subject(subject)
        if principal is None and identity.email:
            principal = await self._principals.by_email(identity.email)
        if principal is None:
            raise unauthorized()
        return principal

    async def principal_for_openid(self, userinfo: dict[str, Any]) -> Principal | SignInRefusal:
        """The ID token's verified email, among coaches and admins; nobody is created (no self-sign-up)."""
        email = userinfo.get("email")
        if not isinstance(email, str) or userinfo.get("email_verified") is not True:
            return SignInRefusal.UNVERIFIED_EMAIL
        return await self._principals.by_email(email) or SignInRefusal.UNKNOWN_EMAIL

    async def development_accounts(self) -> list[tuple[Principal, str]]:
        return await self._principals.everyone()

    async def principal_by_id(self, principal_id: UUID, role: Role) -> Principal | None:
        return await self._principals.by_id(principal_id, role)

    async def start_session(self, principal: Principal, signed_in_with: SignedInWith) -> StartedSession:
        started = StartedSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self._max_age)
        await self._sessions.start(
            started.token,
            principal,
            csrf_token=started.csrf_token,
            signed_in_with=signed_in_with,
            lifetime=self._max_age,
        )
        return started

    async def live_session(self, token: str) -> LiveSession:
        live = await self._sessions.live(token, idle_timeout=self._idle_timeout)
        if live is None:
            raise unauthorized()
        if datetime.now(UTC) - live.last_seen_at >= _TOUCH_EVERY:
            await self._sessions.touch(token)
        return live

    async def end_session(self, token: str) -> None:
        await self._sessions.end(token)

    async def aclose(self) -> None:
        if self._provider_tokens is not None:
            await self._provider_tokens.aclose()


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def _as_uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None
