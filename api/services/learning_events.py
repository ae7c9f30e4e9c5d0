"""A coach's observations about a child: written to the learning record, embedded after the commit.

The event is searchable by full text the moment it commits (a generated ``tsvector``). Its vector comes
from the worker: the child's ``EmbedLearningEventsWorkflow`` is started or signalled (signal-with-start)
after the commit, so the coach's answer never waits on a model. Other writers of learning events (the
pages' assessments and homework) call ``after_commit`` the same way.
"""

import logging
from typing import Any
from uuid import UUID

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.services.access import visible_child
from api.services.idempotency import key_reused, keyed_row_id
from coach_sessions.auth import Principal
from coach_sessions.contracts import EmbedEventsInput
from coach_sessions.errors import ErrorCode, NotFound
from coach_sessions.repositories.learning_events import LearningEventRecord, LearningEventRepository
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.temporal import embed_events_workflow_id
from workflows.embedding import EmbedLearningEventsWorkflow

log = logging.getLogger("coach_sessions.api")


class LearningEventService:
    def __init__(
        self,
        events: LearningEventRepository,
        people: PeopleRepository,
        sessions: SessionRepository,
        temporal: Client,
        task_queue: str,
    ) -> None:
        self._events = events
        self._people = people
        self._sessions = sessions
        self._temporal = temporal
        self._task_queue = task_queue

    async def add(
        self,
        principal: Principal,
        *,
        child_id: UUID,
        session_id: UUID | None,
        event_type: str,
        event_data: dict[str, Any],
        content: str,
        idempotency_key: str | None = None,
    ) -> LearningEventRecord:
        """The child's coach or an admin; anyone else gets the same 404 as a missing child.

        With an ``idempotency_key``: at most one event per caller and key (a retry answers it)."""
        await visible_child(self._people, principal, child_id)
        if session_id is not None:
            session = await self._sessions.get(session_id)
            if session is None or session.child_id != child_id:
                raise NotFound("session of this child", ErrorCode.NOT_FOUND)
        event, same = await self._events.add(
            child_id=child_id,
            coach_id=None if principal.is_admin else principal.id,
            session_id=session_id,
            event_type=event_type,
            event_data=event_data,
            content=content,
            row_id=keyed_row_id(principal.id, "learning-event", idempotency_key) if idempotency_key else None,
        )
        if not same:
            raise key_reused()
        await self.after_commit(child_id)
        return event

    async def after_commit(self, child_id: UUID) -> None:
        """Ask the worker to embed the child's new events. Best effort: the next brief catches up too."""
        try:
            await self._temporal.start_workflow(
                EmbedLearningEventsWorkflow.run,
                EmbedEventsInput(child_id=child_id),
                id=embed_events_workflow_id(child_id),
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                start_signal="events_added",
            )
        except (RPCError, WorkflowAlreadyStartedError) as error:  # (the test server races signal-with-start)
            log.warning("embedding not requested", extra={"child_id": str(child_id), "error": type(error).__name__})
