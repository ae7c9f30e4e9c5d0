"""The action's floor: a bare workflow whose update runs one local activity doing the very transaction
the service runs (``activities.sessions.run_transition``), on its own task queue, with the SDK's default worker
settings. ``python -m bench.floor_worker`` (environment as the worker's) writes ``floor_worker.ready``
next to its log once it polls."""

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

with workflow.unsafe.imports_passed_through():
    from activities.sessions import run_transition
    from coach_sessions.contracts import TransitionRequest, TransitionResult
    from coach_sessions.db import create_pool
    from coach_sessions.repositories.sessions import SessionRepository
    from coach_sessions.settings import get_settings
    from coach_sessions.temporal import connect

FLOOR_QUEUE = "bench-floor"
FLOOR_QUEUE_UNSANDBOXED = "bench-floor-unsandboxed"


class FloorActivities:
    def __init__(self, sessions: SessionRepository) -> None:
        self._sessions = sessions

    @activity.defn
    async def floor_apply(self, request: TransitionRequest) -> TransitionResult:
        return await run_transition(self._sessions, request)


@workflow.defn
class FloorWorkflow:
    """Waits; each ``apply`` update runs the transition as a local activity and answers its result."""

    def __init__(self) -> None:
        self._done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._done)

    @workflow.update
    async def apply(self, request: TransitionRequest) -> TransitionResult:
        return await workflow.execute_local_activity_method(
            FloorActivities.floor_apply,
            request,
            start_to_close_timeout=timedelta(seconds=10),
        )

    @workflow.signal
    def finish(self) -> None:
        self._done = True

    @workflow.query
    def ready(self) -> bool:
        """Answered once the first workflow task ran: the bench waits for it before timing updates."""
        return True


@activity.defn
async def floor_noop(value: int) -> int:
    return value


@workflow.defn
class OneActivityWorkflow:
    """The throughput anchor (like the SDK's load test): a workflow that runs one regular activity."""

    @workflow.run
    async def run(self, value: int) -> int:
        return await workflow.execute_activity(floor_noop, value, start_to_close_timeout=timedelta(seconds=10))


async def main() -> None:
    pool = await create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=10)
    client = await connect(get_settings(), namespace="default")  # the worker's environment, its key
    activities = FloorActivities(SessionRepository(pool))
    sandboxed = Worker(
        client,
        task_queue=FLOOR_QUEUE,
        workflows=[FloorWorkflow, OneActivityWorkflow],
        activities=[activities.floor_apply, floor_noop],
    )
    # The same, without the workflow sandbox: what the sandbox costs per workflow task.
    bare = Worker(
        client,
        task_queue=FLOOR_QUEUE_UNSANDBOXED,
        workflows=[FloorWorkflow],
        activities=[activities.floor_apply],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with sandboxed, bare:
        ready = (
            Path(sys.argv[1]) if len(sys.argv) > 1 else Path(os.environ.get("BENCH_DIR", ".")) / "floor_worker.ready"
        )
        ready.write_text("ok")
        await stop.wait()
    await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
