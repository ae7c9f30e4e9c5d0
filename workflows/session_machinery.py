"""Small pieces of machinery the SessionWorkflow is built from (each one job, no business rules).

In the manner of Temporal's ``updatable_timer_lib`` sample: the workflow class reads as the
lifecycle; how background work is tracked and how calendar syncs coalesce live here (the consent
child's machinery sits beside its workflow, in workflows/consent_child.py).
"""

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any
from uuid import UUID

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.errors import domain_error_to_application_error
    from coach_sessions.errors import DomainError
    from coach_sessions.models import SessionRecord
    from coach_sessions.statuses import SessionStatus
    from coach_sessions.temporal import CHILD_ID, COACH_ID, SESSION_NUMBER, SESSION_STATUS
    from workflows import steps


def request_id() -> str:
    """The id that makes a transition idempotent: the current update's id (stable across retries)."""
    update = workflow.current_update_info()
    return update.id if update else str(workflow.uuid4())


def refuse_with(rule: Callable[..., None], *facts: object) -> None:
    """Run a rule of ``coach_sessions.rules`` as a workflow refusal (the update's caller sees its code)."""
    try:
        rule(*facts)
    except DomainError as error:
        raise domain_error_to_application_error(error) from None


def publish_status(previous: SessionRecord | None, session: SessionRecord) -> None:
    """Keep the search attributes (ids, number, status: no personal data) on the session's status."""
    if previous is not None and previous.status == session.status:
        return  # the search attributes only follow the status; no history event for nothing
    workflow.upsert_search_attributes(
        [
            CHILD_ID.value_set(str(session.child_id)),
            COACH_ID.value_set(str(session.coach_id)),
            SESSION_NUMBER.value_set(session.session_number),
            SESSION_STATUS.value_set(session.status),
        ]
    )


def until_end(session: SessionRecord) -> timedelta | None:
    """Time until the session's end (None: wait for an update only), from its current time."""
    if session.status != SessionStatus.SCHEDULED:
        return None
    return max(session.ends_at - workflow.now(), timedelta(0))


def validate_with(update: Any, check: Callable[[Any], None]) -> None:
    """Register ``check(workflow)`` as the validator of ``update``: one rule shared by several updates.

    Temporal wants a validator with its update's exact signature, so each gets a thin copy.
    """

    def validator(self: Any, *args: Any) -> None:
        check(self)

    validator.__signature__ = inspect.signature(update)  # type: ignore[attr-defined]
    update.validator(validator)


class BackgroundTasks:
    """Side effects that run after the caller has its answer; the workflow ends only after all of them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any]":
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def idle(self) -> bool:
        return not self._tasks

    def idle_except(self, *waiting: "asyncio.Task[Any] | None") -> bool:
        """Nothing running but the given long-lived waits (a timer that a next run re-arms)."""
        return not (self._tasks - set(waiting))


class CalendarSync:
    """Coalesces calendar syncs: at most one runs; a change during it triggers one more pass."""

    def __init__(self, tasks: BackgroundTasks, session_id: Callable[[], UUID]) -> None:
        self._tasks = tasks
        self._session_id = session_id
        self._dirty = False
        self._task: asyncio.Task[Any] | None = None

    def request(self) -> None:
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = self._tasks.spawn(self._loop())

    async def _loop(self) -> None:
        while self._dirty:
            self._dirty = False
            await steps.sync_calendar(self._session_id())
