"""Request-scoped dependencies: the caller, and the services built on the app's one pool and client."""

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.services import Services
from api.text_guard import refuse_unstorable_text
from coach_sessions.auth import Principal, verify_token
from coach_sessions.errors import DomainError, ErrorCode

_bearer = HTTPBearer(auto_error=False)


async def get_services(request: Request) -> Services:  # async: a plain def would cost a thread hop per request
    return request.app.state.services  # type: ignore[no-any-return]


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from the bearer token; then the one check on the text they send.

    Every route that takes text is authenticated, so checking text here reaches all of them and keeps
    the usual order: a caller without a valid token hears 401 before anything about their input.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise DomainError(ErrorCode.UNAUTHORIZED, "A valid bearer token is required.")
    principal = verify_token(request.app.state.settings.auth_jwt_secret, credentials.credentials)
    await refuse_unstorable_text(request)
    return principal


def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise DomainError(ErrorCode.FORBIDDEN, "This action needs an admin.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
ServicesDep = Annotated[Services, Depends(get_services)]

# A client-chosen key (e.g. a UUID) that makes an action safe to retry: the same key returns the first
# outcome. Keys are per caller and kept with the outcome; see docs/reliability.md, "What a client can rely on".
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]
