"""The coach's pre-session brief: served from storage while fresh, generated through Temporal otherwise.

Generation runs in the worker (which holds the models): through the session's own workflow (update
``generate_brief``, single-flight inside the workflow) while it runs, or through a one-off
``SessionBriefWorkflow`` (id per session, "use existing": concurrent requests join one run) once the
session's workflow has finished. When generation fails, the last stored brief answers with
``stale: true``; with none, ``brief_unavailable`` (503).
"""

import asyncio
import contextlib
import logging
from datetime import timedelta
from uuid import UUID

from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.services.access import visible_session
from api.services.session_workflow import session_workflow_start
from coach_sessions.auth import Principal
from coach_sessions.contracts import BriefWorkflowInput, SessionBrief
from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.models import SessionRecord
from coach_sessions.repositories.briefs import BriefRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.statuses import TERMINAL_STATUSES
from coach_sessions.temporal import session_brief_workflow_id
from workflows.brief import SessionBriefWorkflow
from workflows.session import SessionWorkflow

log = logging.getLogger("coach_sessions.api")

# How long a page waits for a generation before it takes the last stored brief (or a 503).
GENERATION_WAIT = timedelta(seconds=20)
_GENERATION_FAILURES = (
    WorkflowUpdateFailedError,
    WorkflowFailureError,
    WorkflowAlreadyStartedError,
    RPCError,
    TimeoutError,
)


class BriefService:
    def __init__(
        self,
        sessions: SessionRepository,
        briefs: BriefRepository,
        temporal: Client,
        task_queue: str,
        *,
        wait: timedelta = GENERATION_WAIT,
    ) -> None:
        self._sessions = sessions
        self._briefs = briefs
        self._temporal = temporal
        self._task_queue = task_queue
        self._wait = wait

    async def session_prep(self, principal: Principal, session_id: UUID) -> SessionBrief:
        record = await visible_session(self._sessions, principal, session_id)
        stored = await self._briefs.stored(session_id)
        if stored is not None and not stored.stale:
            return stored
        try:
            return await asyncio.wait_for(self._generate(record), self._wait.total_seconds())
        except _GENERATION_FAILURES as error:
            log.warning(
                "brief generation failed: %r (%r)",
                error,
                getattr(error, "cause", None),
                extra={"session_id": str(session_id)},
            )
        if stored is not None:
            return stored.model_copy(update={"stale": True})
        raise DomainError(
            ErrorCode.BRIEF_UNAVAILABLE,
            "The brief cannot be generated right now and none is stored yet; try again shortly.",
        )

    async def _generate(self, record: SessionRecord) -> SessionBrief:
        if record.status in TERMINAL_STATUSES:
            return await self._generate_apart(record)
        # Never start a second lifecycle for the session: if its workflow closed (it finished in the
        # meantime, or it was closed from outside: terminated, timed out), the brief runs on its own.
        start = session_workflow_start(record.id, self._task_queue, restart_finished=False)
        try:
            return await self._temporal.execute_update_with_start_workflow(
                SessionWorkflow.generate_brief, start_workflow_operation=start
            )
        except (WorkflowAlreadyStartedError, RPCError) as error:
            if isinstance(error, RPCError) and error.status != RPCStatusCode.ALREADY_EXISTS:
                raise
            with contextlib.suppress(Exception):  # the start's own copy of the error, read so it is not logged
                await start.workflow_handle()
            return await self._generate_apart(record)

    async def _generate_apart(self, record: SessionRecord) -> SessionBrief:
        """The brief workflow alone, for a session whose lifecycle workflow has closed."""
        return await self._temporal.execute_workflow(
            SessionBriefWorkflow.run,
            BriefWorkflowInput(session_id=record.id),
            id=session_brief_workflow_id(record.id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
