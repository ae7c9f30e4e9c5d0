"""The OpenID Connect client (Authlib's Starlette integration): authorization code with PKCE (S256),
``state`` and ``nonce``, the provider found by discovery. Authlib checks the ID token (signature from
the provider's JWKS, ``iss``, ``aud``, ``exp``, ``nonce``); the state lives in Postgres, read once.

Authlib also keeps a marker in a signed cookie (Starlette's SessionMiddleware, ``coach_sign_in``),
so only the browser that began a sign-in can finish it (RFC 6749 §10.12).
"""

import hashlib
import hmac

from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from coach_sessions.repositories.sign_in_sessions import OpenIdStateStore
from coach_sessions.settings import Settings

PROVIDER = "portal"  # Authlib's name for the one configured issuer
SIGN_IN_COOKIE = "coach_sign_in"
SIGN_IN_COOKIE_MAX_AGE = 600  # an unfinished sign-in is forgotten after ten minutes


def signing_key(settings: Settings) -> str:
    """The sign-in cookie's key, derived from AUTH_JWT_SECRET: one secret to set and rotate."""
    return hmac.new(settings.auth_jwt_secret.encode(), b"coach-sessions sign-in cookie", hashlib.sha256).hexdigest()


def install_sign_in_cookie(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        SessionMiddleware,
        secret_key=signing_key(settings),
        session_cookie=SIGN_IN_COOKIE,
        max_age=SIGN_IN_COOKIE_MAX_AGE,
        same_site="lax",  # the provider's redirect back is a top-level GET: Lax still sends it
        https_only=settings.app_env != "development",
    )


def openid_client(settings: Settings, states: OpenIdStateStore) -> StarletteOAuth2App | None:
    """None when no issuer is configured (then pages sign in only in development)."""
    if not settings.oidc_issuer:
        return None
    oauth = OAuth(cache=states)
    client = oauth.register(
        PROVIDER,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256", "timeout": 10},
    )
    return client  # type: ignore[no-any-return]
