"""The portal's own bearer tokens: HS256 JWTs with ``sub`` (uuid), ``role`` (coach | admin), ``iat`` and ``exp``.

They stay for development and service-to-service use; people from an identity provider come in through
coach_sessions/provider_tokens.py. Both refuse with the one error below, so a 401 body never says why.
"""

import functools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.statuses import Role

ALGORITHM = "HS256"
UNAUTHORIZED_DETAIL = "A valid bearer token is required."
# Clocks of the minting and verifying machines differ by a few seconds; an iat (or a provider's nbf)
# this far ahead is still accepted. Expiry of the portal's own tokens gets no leeway (see verify_token).
CLOCK_SKEW_LEEWAY = timedelta(seconds=30)
# AUTH_TOKEN_MAX_TTL's default: the longest a portal token may live (exp - iat).
DEFAULT_TOKEN_MAX_TTL = timedelta(hours=24)


def unauthorized() -> DomainError:
    """The one refusal for every bad token (a fresh instance: a raised exception carries its traceback)."""
    return DomainError(ErrorCode.UNAUTHORIZED, UNAUTHORIZED_DETAIL)


def is_numeric_date(value: Any) -> bool:
    """RFC 7519's NumericDate: a JSON number. PyJWT would also read "123" (a string) or true as one."""
    return not isinstance(value, bool) and isinstance(value, int | float)


@dataclass(frozen=True)
class Principal:
    """The caller, however they came in (docs/security.md, "Who is calling"); ``name`` is for display."""

    id: UUID
    role: Role
    name: str = field(default="", compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def coach_scope(self) -> UUID | None:
        """The coach whose rows this principal may see; None for an admin (all rows)."""
        return None if self.is_admin else self.id


def mint_token(
    secret: str, subject: UUID, role: Role, ttl: timedelta, *, max_ttl: timedelta = DEFAULT_TOKEN_MAX_TTL
) -> str:
    """A token verify_token accepts; a ttl over max_ttl is refused here rather than minted unusable."""
    if ttl > max_ttl:  # a negative ttl stays possible: tests mint expired tokens
        raise ValueError(f"a token's lifetime must be at most {max_ttl} (AUTH_TOKEN_MAX_TTL)")
    now = datetime.now(UTC)
    claims = {"sub": str(subject), "role": role.value, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, *, max_ttl: timedelta = DEFAULT_TOKEN_MAX_TTL) -> Principal:
    """The caller a portal token names; max_ttl is AUTH_TOKEN_MAX_TTL (the longest exp - iat accepted)."""
    principal, expires_at = _verified(secret, token, max_ttl.total_seconds())
    if time.time() >= expires_at:  # PyJWT's own rule (no leeway): expired from its exp second on
        raise unauthorized()
    return principal


# A page or a client sends the same token with every request; checking its signature and claims
# again each time was a fifth of a read's own cost. Only tokens that verified are remembered (an
# exception is not cached), keyed by the exact token, secret and maximum lifetime; expiry is checked on
# every use. The iat check needs no repeating: a token not issued in the future stays so.
@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str, max_ttl_seconds: float) -> tuple[Principal, float]:
    try:
        # iat is checked below, with the leeway (PyJWT's own check would allow none for it).
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "role", "iat", "exp"], "verify_iat": False},
        )
        exp, iat, sub = claims["exp"], claims["iat"], claims["sub"]
        if not (is_numeric_date(exp) and is_numeric_date(iat)):
            raise unauthorized()
        if iat > time.time() + CLOCK_SKEW_LEEWAY.total_seconds() or exp - iat > max_ttl_seconds:
            raise unauthorized()
        # One spelling per subject: no uppercase, braces or urn:uuid: forms of the same id.
        if not isinstance(sub, str) or str(UUID(sub)) != sub:
            raise unauthorized()
        return Principal(id=UUID(sub), role=Role(claims["role"])), float(exp)
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise unauthorized() from error
