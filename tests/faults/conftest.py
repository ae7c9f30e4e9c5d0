"""Fixtures for the fault scenarios: a fresh multi-process cluster per test, always torn down."""

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.faults.cluster import Cluster

StartCluster = Callable[..., Awaitable[Cluster]]


@pytest.fixture
async def start_cluster() -> AsyncIterator[StartCluster]:
    """``await start_cluster(api_env=..., with_worker=...)``; every cluster started is stopped at the
    end of the test, whatever the outcome (processes SIGKILLed, temp dirs removed)."""
    started: list[Cluster] = []

    async def start(**options: object) -> Cluster:
        cluster = await Cluster.start(**options)  # type: ignore[arg-type]
        started.append(cluster)
        return cluster

    try:
        yield start
    finally:
        for cluster in started:
            await cluster.stop()
