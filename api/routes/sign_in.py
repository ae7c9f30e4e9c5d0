"""Signing in and out of the pages (docs/security.md, "Signing in"). Browser answers (pages, redirects),
not JSON API: kept out of the OpenAPI document like the pages themselves.

- ``/auth/openid`` → the provider → ``/auth/callback``: OpenID Connect, when OIDC_ISSUER is set;
- ``/auth/development``: the development page's one-click sign-in (APP_ENV=development only);
- ``/auth/token``: a portal token exchanged for a session (the ``#token=`` links; not in production);
- ``/auth/sign-out``: ends the session on the server.
"""

import logging
import re
from typing import Annotated, Any
from urllib.parse import parse_qs
from uuid import UUID

from authlib.common.errors import AuthlibBaseError
from fastapi import APIRouter, Body, Request
from fastapi.responses import RedirectResponse, Response
from httpx import HTTPError
from joserfc.errors import JoseError

from api.pages import templates
from api.services import Services
from api.services.sign_in import SignInRefusal, StartedSession, csrf_matches
from api.session_cookie import CSRF_FORM_FIELD, clear_session_cookie, same_origin, session_token, set_session_cookie
from coach_sessions.auth import Principal
from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.statuses import Role

log = logging.getLogger("coach_sessions.api")
router = APIRouter(include_in_schema=False)

# Where a sign-in may send the browser afterwards: a page of ours, never another site ("//evil").
_NEXT = re.compile(r"^/coach/[A-Za-z0-9/_-]{0,200}$")
DEFAULT_NEXT = "/coach/agenda"

# What the sign-in page says for each ?reason= (the page never shows text taken from the address).
REASONS = {
    "signed_out": "You signed out.",
    "expired": "Your session has ended. Sign in again.",
    SignInRefusal.UNKNOWN_EMAIL: "That account's email is not one of this programme's coaches or admins. "
    "Ask the programme's admin to add you with the email you sign in with.",
    SignInRefusal.UNVERIFIED_EMAIL: "Your identity provider has not verified that account's email address, "
    "so it cannot sign you in here. Verify it there, then try again.",
    "failed": "Sign-in did not complete (it was started in another tab, took too long, or was cancelled). Try again.",
    "bad_token": "That sign-in link is not valid any more. Ask for a new one.",
    "unavailable": "The sign-in provider cannot be reached just now. Try again in a minute.",
}


def safe_next(value: str | None) -> str:
    return value if value and _NEXT.match(value) else DEFAULT_NEXT


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def _replace_session(request: Request, started: StartedSession, response: Response) -> Response:
    """The new session's cookie; a session this browser already had ends (one browser, one session)."""
    if (previous := session_token(request)) is not None:
        await _services(request).sign_in.end_session(previous)
    set_session_cookie(response, request.app.state.settings, started.token, int(started.max_age.total_seconds()))
    return response


async def _signed_in(request: Request, started: StartedSession, to: str) -> Response:
    return await _replace_session(request, started, RedirectResponse(to, status_code=303))


def _to_sign_in(reason: str, next_page: str | None = None) -> RedirectResponse:
    query = f"?reason={reason}" + (f"&next={next_page}" if next_page and next_page != DEFAULT_NEXT else "")
    return RedirectResponse("/coach/sign-in" + query, status_code=303)


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form's fields (the body is capped at 64 KiB by the middleware); repeats keep the first."""
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    return {name: values[0] for name, values in fields.items()}


@router.get("/coach/sign-in")
async def sign_in_page(request: Request, next: str | None = None, reason: str | None = None) -> Response:
    settings = request.app.state.settings
    development = settings.app_env == "development"
    accounts = await _services(request).sign_in.development_accounts() if development else []
    context: dict[str, Any] = {
        "title": "Sign in",
        "next": safe_next(next),
        "reason": REASONS.get(reason or ""),
        "openid_label": settings.oidc_provider_label if request.app.state.openid else None,
        "accounts": accounts,
        "development": development,
    }
    return templates.TemplateResponse(request, "sign_in.html", context)


@router.get("/auth/openid")
async def openid_sign_in(request: Request, next: str | None = None) -> Response:
    client = request.app.state.openid
    if client is None:
        raise DomainError(ErrorCode.NOT_FOUND, "OpenID sign-in is not configured here.")
    request.session["next"] = safe_next(next)
    settings = request.app.state.settings
    redirect_uri = settings.oidc_redirect_url or str(request.url_for("openid_callback"))
    try:
        # OpenID Discovery 4.3: the document must name the issuer we were configured with, else
        # another server's document (a mistyped URL, a proxy) would choose whose ID tokens we trust.
        issuer = (await client.load_server_metadata()).get("issuer", "")
        if str(issuer).rstrip("/") != settings.oidc_issuer.rstrip("/"):
            log.error("openid discovery names another issuer", extra={"issuer": str(issuer)[:200]})
            return _to_sign_in("unavailable")
        return await client.authorize_redirect(request, redirect_uri)  # type: ignore[no-any-return]
    except (HTTPError, AuthlibBaseError, ValueError):
        log.warning("openid provider unreachable at sign-in")  # discovery failed: no personal data here
        return _to_sign_in("unavailable")


@router.get("/auth/callback", name="openid_callback")
async def openid_callback(request: Request) -> Response:
    client = request.app.state.openid
    if client is None:
        raise DomainError(ErrorCode.NOT_FOUND, "OpenID sign-in is not configured here.")
    next_page = safe_next(request.session.pop("next", None))
    try:
        token = await client.authorize_access_token(request)
    except (AuthlibBaseError, JoseError) as error:
        # a tampered or replayed state, a refused code, "access_denied", an ID token with another issuer,
        # audience or nonce, or a bad signature: the browser is told sign-in failed, nothing is created
        log.info("openid sign-in refused", extra={"reason": type(error).__name__})
        return _to_sign_in("failed", next_page)
    except HTTPError:
        log.warning("openid provider unreachable at callback")
        return _to_sign_in("unavailable", next_page)
    services = _services(request)
    found = await services.sign_in.principal_for_openid(token.get("userinfo") or {})
    if isinstance(found, SignInRefusal):
        log.info("openid sign-in found nobody", extra={"reason": found.value})  # never the email itself
        return _to_sign_in(found.value, next_page)
    return await _signed_in(request, await services.sign_in.start_session(found, "openid"), next_page)


@router.post("/auth/development")
async def development_sign_in(request: Request) -> Response:
    """Refused outright outside APP_ENV=development: it signs in as anyone, by design."""
    if request.app.state.settings.app_env != "development":
        raise DomainError(ErrorCode.NOT_FOUND, "There is no development sign-in here.")
    if not same_origin(request, required=True):
        raise DomainError(ErrorCode.CSRF_FAILED, "This request did not come from a Coach Sessions page.")
    form = await _form(request)
    try:
        principal_id, role = UUID(form.get("principal", "")), Role(form.get("role", ""))
    except ValueError:
        return _to_sign_in("failed")
    principal = await _services(request).sign_in.principal_by_id(principal_id, role)
    if principal is None:
        return _to_sign_in("failed")
    started = await _services(request).sign_in.start_session(principal, "development")
    return await _signed_in(request, started, safe_next(form.get("next")))


@router.post("/auth/token", status_code=204)
async def token_sign_in(request: Request, token: Annotated[str, Body(embed=True, max_length=4096)]) -> Response:
    """A page opened with ``#token=<portal token>`` trades it for a session (the token never reaches a
    server log: a fragment is not sent; this body is not logged). Development and test only."""
    if request.app.state.settings.app_env == "production":
        raise DomainError(ErrorCode.NOT_FOUND, "Token links do not sign in here; sign in with your account.")
    if not same_origin(request, required=True):
        raise DomainError(ErrorCode.CSRF_FAILED, "This request did not come from a Coach Sessions page.")
    principal: Principal = await _services(request).sign_in.principal_for_portal_token(token)
    started = await _services(request).sign_in.start_session(principal, "token")
    return await _replace_session(request, started, Response(status_code=204))


@router.post("/auth/sign-out")
async def sign_out(request: Request) -> Response:
    token = session_token(request)
    if token is None:
        return _to_sign_in("signed_out")
    services = _services(request)
    try:
        live = await services.sign_in.live_session(token)
    except DomainError:
        live = None
    if live is not None:
        if not csrf_matches(live.csrf_token, (await _form(request)).get(CSRF_FORM_FIELD)):
            raise DomainError(ErrorCode.CSRF_FAILED, "This request did not come from a Coach Sessions page.")
        await services.sign_in.end_session(token)
    response = _to_sign_in("signed_out")
    clear_session_cookie(response, request.app.state.settings)
    return response
