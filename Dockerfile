# syntax=docker/dockerfile:1
# One image for the API, the Temporal worker and the one-shot migrate job; docker-compose.yml picks
# the command. Dependencies come from the committed uv.lock, without the dev group.
FROM python:3.11-slim

# The uv release the lock file is written with (override: --build-arg UV_VERSION=...).
ARG UV_VERSION=0.13.9

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    APP_ENV=production

RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /app

# Dependencies before the code, so that a code change does not reinstall them. The virtualenv lives
# outside /app so that the source copy below can never shadow it.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

# .dockerignore leaves out tests/ and devtools/ (the dev launcher, embedded PostgreSQL, demo data): none of
# the services or their commands import them (the dev-only commands are `python -m devtools`); they
# reach their servers through DATABASE_URL / TEMPORAL_ADDRESS.
COPY . .
# Bytecode for the application too (uv compiles only the virtualenv; PYTHONDONTWRITEBYTECODE and the
# read-only code keep Python from writing it later): the worker's sandbox imports each new workflow's
# module afresh, which would otherwise compile its source for every workflow it starts or replays.
RUN python -m compileall -q /app

# The code and the virtualenv stay root-owned (read-only to the service); it runs unprivileged.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app
USER app

EXPOSE 8000
# Inside the container the API must listen on all interfaces; docker-compose.yml publishes it on the
# host's loopback only.
CMD ["python", "-m", "api.server", "--host", "0.0.0.0", "--port", "8000"]
