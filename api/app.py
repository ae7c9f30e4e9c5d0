"""The FastAPI application: ``create_app()`` opens one pool and one Temporal client for the process."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.codec_cors import CodecCorsMiddleware
from api.errors import install_error_handlers
from api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from api.oidc import install_sign_in_cookie, openid_client
from api.openapi import install_openapi, operation_id
from api.pages import install_pages
from api.routes import (
    agenda,
    briefs,
    codec,
    enrollments,
    family,
    health,
    me,
    ops,
    people,
    people_desk,
    progress,
    sessions,
    sign_in,
    slots,
    webhooks,
)
from api.security_headers import SecurityHeadersMiddleware
from api.services import Services
from coach_sessions.db import create_pool
from coach_sessions.logging import configure_logging
from coach_sessions.repositories.sign_in_sessions import OpenIdStateStore
from coach_sessions.settings import Settings, get_settings
from coach_sessions.temporal import connect

log = logging.getLogger("coach_sessions.api")


def _serve(app: FastAPI, services: Services, settings: Settings) -> None:
    app.state.services = services
    app.state.openid = openid_client(settings, OpenIdStateStore(services.pool))


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """Build the app. Tests pass ready ``services``; otherwise the lifespan connects once."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            yield
            return
        configure_logging(settings.log_level)
        pool = await create_pool(
            settings.database_url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
        )
        try:
            client = await connect(settings)
            _serve(app, Services.build(pool, client, settings), settings)
            reconciling = asyncio.create_task(app.state.services.reconciler.run(settings.reconcile_every))
            log.info("api started", extra={"temporal_address": settings.temporal_address})
            try:
                yield
            finally:
                await app.state.services.sign_in.aclose()
                reconciling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reconciling
        finally:
            await pool.close()

    app = FastAPI(
        title="Coach Sessions",
        version="0.1.0",
        description="Coaching sessions of a children's reading programme, run as durable Temporal workflows.",
        lifespan=lifespan,
        # /docs is served by api/pages.py from vendored files (no CDN); ReDoc is not kept.
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.openid = None
    if services is not None:
        _serve(app, services, settings)
    install_error_handlers(app)
    install_openapi(app)

    # Added innermost first: the request context wraps the body cap and the codec's CORS, so a 413 or a
    # refused preflight carries a request id;
    # the security headers wrap both, so their 413 and 500 carry the headers too. The sign-in cookie
    # (Authlib's state marker) is innermost: only the routes read it.
    install_sign_in_cookie(app, settings)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(CodecCorsMiddleware, origin=settings.temporal_ui_origin)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)

    routers = (
        health,
        slots,
        sessions,
        agenda,
        webhooks,
        people,
        people_desk,
        family,
        ops,
        me,
        enrollments,
        progress,
        briefs,
        sign_in,
        codec,
    )
    for module in routers:
        app.include_router(module.router)
    install_pages(app)
    return app
