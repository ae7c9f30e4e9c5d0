"""Request-scoped dependencies: the caller, and the services built on the app's one pool and client."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.services import Services
from api.services.family import invalid_family_link
from api.services.sign_in import csrf_matches
from api.session_cookie import CSRF_HEADER, SAFE_METHODS, same_origin, session_token
from api.text_guard import refuse_unstorable_text
from coach_sessions.auth import Principal, unauthorized
from coach_sessions.errors import DomainError, ErrorCode

_bearer = HTTPBearer(auto_error=False)
# Declared so that the OpenAPI document names the second way in; the cookie's name depends on
# APP_ENV (api/session_cookie.py), so the value is read there, not from this scheme.
_cookie = APIKeyCookie(name="__Host-coach_session", auto_error=False, description="A signed-in page's session.")


_family_link = APIKeyHeader(
    name="X-Family-Link",
    scheme_name="FamilyLink",
    auto_error=False,
    description="A family's link (POST /api/parents/{id}/family-link): a parent's own way in. Keep it secret.",
)


async def get_services(request: Request) -> Services:  # async: a plain def would cost a thread hop per request
    return request.app.state.services  # type: ignore[no-any-return]


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _declared_cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    """The caller, from a bearer token or a page's session cookie; then the one check on the text they send.

    Every route that takes text is authenticated, so checking text here reaches all of them and keeps
    the usual order: a caller without valid credentials hears 401 before anything about their input.
    A bearer token wins over a cookie: it is what a client chose to send.
    """
    services: Services = request.app.state.services
    if credentials is not None:
        principal = await _bearer_principal(services, credentials)
    elif (token := session_token(request)) is not None:
        live = await services.sign_in.live_session(token)
        if request.method not in SAFE_METHODS and not (
            csrf_matches(live.csrf_token, request.headers.get(CSRF_HEADER)) and same_origin(request, required=False)
        ):
            raise DomainError(ErrorCode.CSRF_FAILED, "This request did not come from a Coach Sessions page.")
        principal = live.principal
    else:
        raise unauthorized()
    await refuse_unstorable_text(request)
    return principal


async def _bearer_principal(services: Services, credentials: HTTPAuthorizationCredentials) -> Principal:
    if credentials.scheme.lower() != "bearer":
        raise unauthorized()
    return await services.sign_in.principal_for_bearer(credentials.credentials)


async def get_codec_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _declared_cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    """An admin calling the Temporal UI's codec endpoints (api/routes/codec.py): a bearer token, or an
    admin's page session cookie on a request whose Origin is exactly TEMPORAL_UI_ORIGIN.

    The UI runs on another origin and cannot know the session's X-CSRF-Token, so the codec routes do
    not ask for it. That is not a CSRF hole: decoding and encoding change nothing on the server, and
    a forged request from any other page is refused here (its browser-set Origin is not the UI's) and
    could not read the answer anyway, since CORS lets only TEMPORAL_UI_ORIGIN read it.
    """
    services: Services = request.app.state.services
    if credentials is not None:
        principal = await _bearer_principal(services, credentials)
    elif (token := session_token(request)) is not None:
        live = await services.sign_in.live_session(token)
        ui_origin = request.app.state.settings.temporal_ui_origin
        if not ui_origin or request.headers.get("origin") != ui_origin:
            raise DomainError(
                ErrorCode.CSRF_FAILED, "A signed-in codec request must come from the Temporal UI (TEMPORAL_UI_ORIGIN)."
            )
        principal = live.principal
    else:
        raise unauthorized()
    await refuse_unstorable_text(request)
    return require_admin(principal)


async def get_family(request: Request, link: Annotated[str | None, Depends(_family_link)]) -> UUID:
    """The parent a family link names (api/services/family.py); every bad link gets the same 401."""
    if not link:
        raise invalid_family_link()
    services: Services = request.app.state.services
    parent_id = await services.family.family_for(link)
    await refuse_unstorable_text(request)
    return parent_id


def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise DomainError(ErrorCode.FORBIDDEN, "This action needs an admin.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
CodecAdmin = Annotated[Principal, Depends(get_codec_admin)]
FamilyParent = Annotated[UUID, Depends(get_family)]
ServicesDep = Annotated[Services, Depends(get_services)]

# A client-chosen key (e.g. a UUID) that makes an action safe to retry: the same key returns the first
# outcome. Keys are per caller and kept with the outcome; see docs/reliability.md, "What a client can rely on".
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]
