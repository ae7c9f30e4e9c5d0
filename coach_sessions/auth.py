"""Bearer tokens: HS256 JWTs with ``sub`` (uuid), ``role`` (coach | admin) and ``exp``."""

import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.statuses import Role

ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    id: UUID
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def coach_scope(self) -> UUID | None:
        """The coach whose rows this principal may see; None for an admin (all rows)."""
        return None if self.is_admin else self.id


def mint_token(secret: str, subject: UUID, role: Role, ttl: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(subject), "role": role.value, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    principal, expires_at = _verified(secret, token)
    if time.time() >= expires_at:  # PyJWT's own rule (no leeway): expired from its exp second on
        raise DomainError(ErrorCode.UNAUTHORIZED, "A valid bearer token is required.")
    return principal


# A page or a client sends the same token with every request; checking its signature and claims
# again each time was a fifth of a read's own cost. Only tokens that verified are remembered (an
# exception is not cached), keyed by the exact token and secret; expiry is checked on every use.
@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Principal, float]:
    unauthorized = DomainError(ErrorCode.UNAUTHORIZED, "A valid bearer token is required.")
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "role", "exp"]})
        # PyJWT reads a numeric *string* exp as a number; RFC 7519 says NumericDate, so refuse it.
        exp = claims["exp"]
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise unauthorized
        return Principal(id=UUID(str(claims["sub"])), role=Role(claims["role"])), float(exp)
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise unauthorized from error
