"""The page session's cookie, and the same-origin rule for requests that carry it.

HttpOnly (no script reads it), SameSite=Lax (another site's form post or fetch does not carry it),
Secure with the ``__Host-`` prefix outside development (https only, this host only, path /). CSRF:
a cookie-authenticated unsafe request must also send the session's token in X-CSRF-Token (a form from
another origin cannot set a header) and, when the browser says where it came from, come from here.
See docs/security.md, "CSRF".
"""

from urllib.parse import urlsplit

from fastapi import Request, Response

from coach_sessions.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"


def _secure(settings: Settings) -> bool:
    return settings.app_env != "development"


def cookie_name(settings: Settings) -> str:
    # __Host- needs Secure; plain http (development, on localhost) cannot have it.
    return "__Host-coach_session" if _secure(settings) else "coach_session"


def session_token(request: Request) -> str | None:
    return request.cookies.get(cookie_name(request.app.state.settings)) or None


def set_session_cookie(response: Response, settings: Settings, token: str, max_age_seconds: int) -> None:
    response.set_cookie(
        cookie_name(settings),
        token,
        max_age=max_age_seconds,
        path="/",
        secure=_secure(settings),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(cookie_name(settings), path="/", secure=_secure(settings), httponly=True, samesite="lax")


def same_origin(request: Request, *, required: bool) -> bool:
    """The Origin header (or, lacking it, the Referer) names this host. ``required``: a request that
    names no origin at all is refused too (the sign-in posts, which have no session token to check yet)."""
    given = request.headers.get("origin") or request.headers.get("referer")
    if not given or given == "null":
        return not required
    host = request.headers.get("host", "")
    return urlsplit(given).netloc.lower() == host.lower()
