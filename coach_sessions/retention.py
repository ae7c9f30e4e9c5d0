"""Starting the retention workflow: each worker asks at start-up; the first start wins, the rest find it."""

import asyncio
import logging

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from coach_sessions.contracts import RetentionInput
from coach_sessions.settings import Settings

log = logging.getLogger("coach_sessions.worker")

RETENTION_WORKFLOW_ID = "personal-data-retention"
# By name: this layer does not import workflows/ (tests/test_architecture.py); workflows/retention.py's
# class has this name, and tests/test_retention.py fails if they drift apart.
RETENTION_WORKFLOW_TYPE = "PersonalDataRetentionWorkflow"


async def ensure_retention_workflow(client: Client, settings: Settings) -> None:
    """Idempotent: with the workflow already running (another worker, an earlier start) nothing changes.
    A changed setting reaches the running workflow at its next continue-as-new only if it is restarted
    (terminate it in the UI; the next worker start begins it again with the new settings)."""
    await client.start_workflow(
        RETENTION_WORKFLOW_TYPE,
        RetentionInput(keep_for=settings.personal_data_retention, every=settings.retention_purge_every),
        id=RETENTION_WORKFLOW_ID,
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    log.info("retention workflow running", extra={"workflow_id": RETENTION_WORKFLOW_ID})


async def keep_trying_to_start_retention(client: Client, settings: Settings) -> None:
    """The worker's start-up call: a Temporal hiccup delays the start, it does not stop the worker."""
    delay = 1.0
    while True:
        try:
            await ensure_retention_workflow(client, settings)
            return
        except RPCError as error:
            log.warning("retention workflow not started yet", extra={"error": type(error).__name__})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)
