"""Run the API under uvicorn with JSON logs: ``python -m api.server [--host H] [--port P]``.

uvicorn's own loggers (startup, "Invalid HTTP request", anything it catches) go through the same
JSON formatter as the app, so every line the API process prints is one JSON object. Its access log
is off: ``api.middleware.RequestContextMiddleware`` logs each request with its request id instead.
"""

import argparse
from typing import Any

import uvicorn

from api.http_protocol import MAX_HEAD_BYTES, HeadLimitProtocol
from coach_sessions.settings import get_settings

LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "coach_sessions.logging.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "uvicorn": {"level": "INFO"},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"level": "WARNING"},
    },
}


def uvicorn_config(app: Any, *, host: str, port: int, factory: bool = False) -> uvicorn.Config:
    """The server settings, shared by ``main()`` and the tests that start a real server.

    The HTTP implementation is named, not "auto": "auto" would switch to httptools the day it gets
    installed, and with it lose the 431 answer to an oversized head (``api/http_protocol.py``)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        factory=factory,
        log_config=LOG_CONFIG,
        access_log=False,
        http=HeadLimitProtocol,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m api.server", description=__doc__)
    parser.add_argument("--host", default=settings.api_host)
    parser.add_argument("--port", type=int, default=settings.api_port)
    args = parser.parse_args(argv)
    uvicorn.Server(uvicorn_config("api.app:create_app", host=args.host, port=args.port, factory=True)).run()


if __name__ == "__main__":
    main()
