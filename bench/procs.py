"""Real OS processes for the benchmark, on free loopback ports, each stopped by its own pid.

Embedded PostgreSQL (temp dir, unix socket), the Temporal dev server exactly as ``make run`` starts it
(``devtools.devstack.temporal_command``, with its dynamic config), the fake providers, the worker, the
API, and the two floors (bare FastAPI + asyncpg app; bare update → local activity worker).
"""

import asyncio
import compileall
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from coach_sessions.db import apply_migrations
from coach_sessions.payload_codec import new_key
from coach_sessions.settings import Settings
from devtools.devstack import temporal_command, wait_for_temporal
from devtools.embedded import EmbeddedPostgres
from tests.fakes.service_account import service_account_file

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
RESERVED = {8000, 7233, 8233, 7243, 7244}  # `make run`'s ports on this shared machine: never ours


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in RESERVED and port + 10 not in RESERVED:
            return port


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 10) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (its children's too once they exit)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def postgres_cpu_seconds(data_dir: Path) -> float:
    """CPU of the postmaster and all its backends (they are its children: sum over /proc)."""
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return 0.0
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if int(entry.name) == postmaster or ppid == postmaster:
                total += cpu_seconds(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


@dataclass
class Stack:
    """Everything the run started, to be stopped by :meth:`stop`, last started first."""

    root: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    pg: EmbeddedPostgres | None = None
    database_url: str = ""
    temporal_address: str = ""
    ports: dict[str, int] = field(default_factory=dict)
    fakes: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def settings(self) -> Settings:
        """What the stack's processes read from ``env``: for this process's own Temporal client."""
        return Settings(
            app_env="development",
            temporal_address=self.temporal_address,
            temporal_namespace="default",
            auth_jwt_secret=self.env.get("AUTH_JWT_SECRET", ""),
            payload_encryption_keys=self.env.get("PAYLOAD_ENCRYPTION_KEYS", ""),
        )

    def spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None, cwd: Path = REPO_ROOT) -> Proc:
        log = self.root / f"{name}.log"
        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **self.env, **(env or {})},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()
        self.procs.clear()
        if self.pg is not None:
            self.pg.stop()
            self.pg = None

    def check_alive(self) -> None:
        for proc in self.procs.values():
            if proc.popen.poll() is not None:
                tail = proc.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{tail}")


def wait_http(url: str, seconds: float = 60, *, status: int = 200, stack: Stack | None = None) -> None:
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        if stack is not None:
            stack.check_alive()
        try:
            last = httpx.get(url, timeout=2, trust_env=False).status_code
            if last == status:
                return
        except httpx.HTTPError as error:
            last = error
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer {status} within {seconds}s (last: {last!r})")


BEFORE_QUEUE = "coach-sessions-before"


def start_stack(root: Path, *, jwt_secret: str, webhook_secret: str, before: Path | None = None) -> Stack:
    """PostgreSQL, Temporal, fakes, worker, API and both floors; raises (after stopping all) on failure.
    With ``before`` (an exported older tree), its worker and API too, on their own task queue: an A/B."""
    stack = Stack(root=root)
    try:
        _start(stack, jwt_secret=jwt_secret, webhook_secret=webhook_secret)
        if before is not None:
            stack.spawn("worker_before", [sys.executable, "worker.py"], {"TEMPORAL_TASK_QUEUE": BEFORE_QUEUE}, before)
            port = stack.ports["api_before"] = free_port()
            uvicorn = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", HOST]
            env = {"TEMPORAL_TASK_QUEUE": BEFORE_QUEUE}
            stack.spawn("api_before", [*uvicorn, "--port", str(port), "--no-access-log"], env, before)
            wait_http(f"http://{HOST}:{port}/readyz", 90, stack=stack)
    except BaseException:
        stack.stop()
        raise
    return stack


def _start(stack: Stack, *, jwt_secret: str, webhook_secret: str) -> None:
    root, py = stack.root, sys.executable
    stack.pg = EmbeddedPostgres(root / "pg", delete_on_stop=True)
    stack.pg.start()
    stack.database_url = asyncio.run(stack.pg.ensure_database())
    asyncio.run(apply_migrations(stack.database_url))

    temporal_port = free_port()
    stack.temporal_address = f"{HOST}:{temporal_port}"
    stack.spawn("temporal", temporal_command(root / "temporal.db", port=temporal_port))

    port_file = root / "fakes.json"
    stack.spawn("fakes", [py, "-m", "bench.fakes_server", str(port_file)])
    deadline = time.monotonic() + 30
    while not port_file.exists():
        stack.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError("fake providers did not start")
        time.sleep(0.1)
    stack.fakes = json.loads(port_file.read_text())
    wait_for_temporal(stack.temporal_address)

    stack.env = {
        "APP_ENV": "development",
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
        "DATABASE_URL": stack.database_url,
        "TEMPORAL_ADDRESS": stack.temporal_address,
        "TEMPORAL_TASK_QUEUE": "coach-sessions",
        "AUTH_JWT_SECRET": jwt_secret,
        # Payloads encrypted as in production: the figures include the codec's cost.
        "PAYLOAD_ENCRYPTION_KEYS": f"bench:{new_key()}",
        "AISENSY_WEBHOOK_SECRET": webhook_secret,
        "CALENDAR_PROVIDER": "google",
        "GOOGLE_SERVICE_ACCOUNT_FILE": str(service_account_file(root / "sa.json", stack.fakes["token_uri"])),
        "GOOGLE_CALENDAR_API_ENDPOINT": stack.fakes["calendar_endpoint"],
        "WHATSAPP_PROVIDER": "aisensy",
        "AISENSY_API_KEY": stack.fakes["aisensy_key"],
        "AISENSY_API_URL": stack.fakes["aisensy_url"],
        "PYTHONUNBUFFERED": "1",
        "BENCH_DIR": str(root),
        # The worker's workflow cache bound (figure 4 shows memory against it): the setting's default
        # unless the caller's environment sets another.
        "WORKER_MAX_CACHED_WORKFLOWS": os.environ.get(
            "WORKER_MAX_CACHED_WORKFLOWS", str(Settings.model_fields["worker_max_cached_workflows"].default)
        ),
    }
    precompile()
    stack.spawn("worker", [py, "worker.py"])
    stack.spawn("floor_worker", [py, "-m", "bench.floor_worker"])
    for name, target in (("api", "api.app:create_app"), ("floor_api", "bench.floor_app:create_app")):
        port = stack.ports[name] = free_port()
        uvicorn = [py, "-m", "uvicorn", target, "--factory", "--host", HOST, "--port", str(port), "--no-access-log"]
        stack.spawn(name, uvicorn)
    wait_http(f"http://{HOST}:{stack.ports['api']}/readyz", 90, stack=stack)
    wait_http(f"http://{HOST}:{stack.ports['floor_api']}/healthz", 60, stack=stack)
    wait_for_file(root / "floor_worker.ready", stack)


def precompile() -> None:
    """Bytecode for the application, as the Docker image has it (``compileall`` at build): the sandbox
    imports each new workflow's module afresh, and where PYTHONDONTWRITEBYTECODE is set (this machine,
    the image) it would otherwise compile the source every time."""
    for package in ("workflows", "activities", "coach_sessions", "api"):
        compileall.compile_dir(REPO_ROOT / package, quiet=1)


def wait_for_file(path: Path, stack: Stack, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        stack.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} not written within {seconds}s")
        time.sleep(0.1)
