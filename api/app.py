"""The FastAPI application: ``create_app()`` opens one pool and one Temporal client for the process."""

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from api.errors import install_error_handlers
from api.routes import briefs, consent, enrollments, health, people, sessions
from api.services import Services
from coach_sessions.db import create_pool
from coach_sessions.logging import configure_logging, request_id_var
from coach_sessions.settings import Settings, get_settings
from coach_sessions.temporal import connect

log = logging.getLogger("coach_sessions.api")


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
            client = await connect(settings.temporal_address, settings.temporal_namespace)
            app.state.services = Services.build(pool, client, settings)
            log.info("api started", extra={"temporal_address": settings.temporal_address})
            yield
        finally:
            await pool.close()

    app = FastAPI(
        title="Coach Sessions",
        version="0.1.0",
        description="Coaching sessions of a children's reading programme, run as durable Temporal workflows.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    if services is not None:
        app.state.services = services
    install_error_handlers(app)

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        token = request_id_var.set(request_id[:64])
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            request_id_var.reset(token)
        response.headers["X-Request-ID"] = request_id[:64]
        log.info(
            "request",
            extra={
                "request_id": request_id[:64],
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

    for module in (health, sessions, consent, people, enrollments, briefs):
        app.include_router(module.router)
    return app
