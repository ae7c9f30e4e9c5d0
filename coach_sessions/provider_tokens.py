"""Access tokens issued by an identity provider (Supabase Auth, say): who the caller is, as the provider names them.

RS256/ES256 tokens are checked against the provider's published keys (its JWKS, cached here); a legacy
Supabase project signs HS256 with its project secret instead. Which user that is in our database is the
caller's question (the principal lookup): this module only says the token is genuine, current and ours.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from coach_sessions.auth import CLOCK_SKEW_LEEWAY, is_numeric_date, unauthorized
from coach_sessions.settings import Settings

log = logging.getLogger(__name__)

# The algorithms a JWKS key may carry. HS256 is never taken from a JWKS: a public key used as an HMAC
# secret is the classic algorithm-confusion forgery.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "ES256"})
LEGACY_ALGORITHM = "HS256"
# An unknown kid triggers a refetch at most this often, so a stream of forged kids costs the provider
# one request per interval, not one per token.
JWKS_REFETCH_INTERVAL_SECONDS = 30.0
# Keys older than this are fetched again on the next token, so a key the provider retired stops
# verifying within this bound even when no new kid arrives to prompt a refetch.
JWKS_MAX_AGE_SECONDS = 600.0
JWKS_FETCH_TIMEOUT_SECONDS = 5.0
# Supabase's roles for a token that names no signed-in person: the public API key and the server key.
REFUSED_ROLES = frozenset({"anon", "service_role"})


@dataclass(frozen=True)
class ProviderIdentity:
    """The caller as the provider names them: ``subject`` always; ``email`` only when not marked unverified."""

    subject: str
    email: str | None


class ProviderTokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str = "",
        provider_secret: str = "",
        client: httpx.AsyncClient | None = None,
        refetch_interval: float = JWKS_REFETCH_INTERVAL_SECONDS,
        max_key_age: float = JWKS_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``client``: an httpx client to fetch the JWKS with (else one of its own, closed by aclose);
        ``clock``: monotonic seconds, for the refetch interval and key age (tests move it)."""
        if not (jwks_url or provider_secret) or not issuer or not audience:
            raise ValueError("a provider verifier needs an issuer, an audience, and a JWKS URL or a secret")
        self._issuer = issuer
        self._audience = audience
        self._jwks_url = jwks_url
        self._provider_secret = provider_secret
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=JWKS_FETCH_TIMEOUT_SECONDS)
        self._refetch_interval = refetch_interval
        self._max_key_age = max_key_age
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}  # kid → key, from the newest JWKS that could be read
        self._fetched_at: float | None = None  # when _keys was read
        self._attempted_at: float | None = None  # the last fetch, whether or not it succeeded
        self._fetch_lock = asyncio.Lock()

    @classmethod
    def from_settings(
        cls, settings: Settings, client: httpx.AsyncClient | None = None
    ) -> "ProviderTokenVerifier | None":
        """The verifier AUTH_JWKS_URL / AUTH_PROVIDER_JWT_SECRET describe, or None when neither is set."""
        if not (settings.auth_jwks_url or settings.auth_provider_jwt_secret):
            return None
        return cls(
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            jwks_url=settings.auth_jwks_url,
            provider_secret=settings.auth_provider_jwt_secret,
            client=client,
        )

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def verify(self, token: str) -> ProviderIdentity:
        """The caller a provider token names; every refusal is the same unauthorized DomainError."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise unauthorized() from error
        algorithm = header.get("alg")
        if algorithm == LEGACY_ALGORITHM and self._provider_secret:
            key: Any = self._provider_secret
        elif algorithm in ASYMMETRIC_ALGORITHMS and self._jwks_url and isinstance(header.get("kid"), str):
            jwk = await self._key_for(header["kid"])
            # The key's own algorithm, not the token's say: an RS key never checks an ES-labelled token.
            if jwk is None or jwk.algorithm_name != algorithm:
                raise unauthorized()
            key = jwk.key
        else:  # "none", HS256 without a provider secret, anything else: refused before any crypto
            raise unauthorized()
        return self._identity(self._claims(token, key, algorithm))

    def _claims(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=CLOCK_SKEW_LEEWAY,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise unauthorized() from error
        # PyJWT reads "123" (a string) as a date; RFC 7519 says a number.
        if not all(is_numeric_date(claims[name]) for name in ("exp", "nbf", "iat") if name in claims):
            raise unauthorized()
        return claims

    @staticmethod
    def _identity(claims: dict[str, Any]) -> ProviderIdentity:
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            raise unauthorized()
        # A Supabase anonymous sign-in is a real session of nobody in particular: not a coach or admin.
        if claims.get("is_anonymous", False) is not False or claims.get("role") in REFUSED_ROLES:
            raise unauthorized()
        email = claims.get("email")
        # An email the provider marks unverified names nobody we may trust: the caller keeps the subject
        # (a lookup by subject still works) but gets no email to be matched on. Absent means the provider
        # does not say; Supabase's access tokens do not (it signs in only confirmed emails, with "Confirm
        # email" on: docs/configuration.md).
        if not isinstance(email, str) or not email or claims.get("email_verified", True) is not True:
            email = None
        return ProviderIdentity(subject=subject, email=email)

    async def _key_for(self, kid: str) -> jwt.PyJWK | None:
        """The JWKS key with this kid; refetches when the kid is unknown or the keys are old (rate-limited)."""
        if not self._is_stale() and kid in self._keys:
            return self._keys[kid]
        # A request arriving while a fetch runs waits for its answer rather than refusing on the old keys.
        if self._may_fetch() or self._fetch_lock.locked():
            async with self._fetch_lock:
                # Concurrent requests queue here; the first fetches, the others find it done and use its keys.
                if self._may_fetch():
                    await self._fetch()
        # After a failed fetch the keys we had still verify: a provider's outage is not ours.
        return self._keys.get(kid)

    def _is_stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._max_key_age

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._refetch_interval

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        try:
            response = await self._client.get(self._jwks_url, headers={"Accept": "application/json"})
            response.raise_for_status()
            keys = {
                key.key_id: key
                for key in jwt.PyJWKSet.from_dict(response.json()).keys
                if key.key_id and key.algorithm_name in ASYMMETRIC_ALGORITHMS
            }
            if not keys:
                raise jwt.PyJWKSetError("no RS256 or ES256 key with a kid")
        except (httpx.HTTPError, ValueError, TypeError, AttributeError, jwt.PyJWTError) as error:
            # No token content here: only where and what kind of failure. At most one line per interval.
            log.warning(
                "JWKS fetch from %s failed (%s); %s",
                self._jwks_url,
                type(error).__name__,
                "keeping the cached keys" if self._keys else "no keys: provider tokens are refused",
            )
            return
        self._keys = keys  # the whole set is replaced: a key the provider dropped is gone
        self._fetched_at = self._clock()
