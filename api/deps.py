"""Request-scoped dependencies: the caller, and the services built on the app's one pool and client."""

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.services import Services
from coach_sessions.auth import Principal, verify_token
from coach_sessions.errors import DomainError, ErrorCode

_bearer = HTTPBearer(auto_error=False)


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise DomainError(ErrorCode.UNAUTHORIZED, "A valid bearer token is required.")
    return verify_token(request.app.state.settings.auth_jwt_secret, credentials.credentials)


def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise DomainError(ErrorCode.FORBIDDEN, "This action needs an admin.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
ServicesDep = Annotated[Services, Depends(get_services)]

# A client-chosen key (e.g. a UUID) that makes an action safe to retry: the same key returns the first
# outcome. Keys are per caller and kept with the outcome; see the README, "After a 503".
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]
