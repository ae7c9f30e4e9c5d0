"""Fixtures for the fault scenarios: a fresh multi-process cluster per test, always torn down."""

import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.cluster import Cluster, make_pg_template

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
