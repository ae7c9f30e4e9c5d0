"""The session's pre-session brief: a timer a lead time before the start, and single-flight generation.

In the manner of Temporal's ``updatable_timer_lib`` sample: the timer waits on a condition over the
session, so a reschedule (the session's ``scheduled_at`` changes) wakes it and it re-arms for the new
time. On-demand requests (the ``generate_brief`` update) join the generation already in flight, so
ten coaches' pages opening at once run one generation.
"""

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import SessionBrief
    from coach_sessions.models import SessionRecord
    from coach_sessions.statuses import TERMINAL_STATUSES
    from workflows import steps
    from workflows.session_machinery import BackgroundTasks


class PreSessionBrief:
    def __init__(self, tasks: BackgroundTasks, session: Callable[[], SessionRecord]) -> None:
        self._tasks = tasks
        self._session = session
        self._in_flight: asyncio.Task[SessionBrief] | None = None
        # The start time the timer last fired for: a reschedule to a new time arms it again.
        self._fired_for: datetime | None = None
        # The waiting timer is not work in flight: a continue-as-new may drop it (the next run re-arms it).
        self.timer_task: asyncio.Task[None] | None = None

    def start_timer(self) -> None:
        self.timer_task = self._tasks.spawn(self._timer())

    async def generate(self) -> SessionBrief:
        """Generate now, or join the generation in flight (its result or failure is everyone's)."""
        return await self._start(on_demand=True)

    def _start(self, *, on_demand: bool) -> "asyncio.Task[SessionBrief]":
        if self._in_flight is None or self._in_flight.done():
            self._in_flight = self._tasks.spawn(steps.generate_brief(self._session().id, on_demand=on_demand))
        return self._in_flight

    def _over(self) -> bool:
        return self._session().status in TERMINAL_STATUSES

    def _moved_or_over(self, starts_at: datetime) -> Callable[[], bool]:
        return lambda: self._over() or self._session().scheduled_at != starts_at

    async def _timer(self) -> None:
        lead = await steps.brief_lead_time()
        while not self._over():
            starts_at = self._session().scheduled_at
            if self._fired_for == starts_at or workflow.now() >= starts_at:
                # Done for this time, or the session already began: wait for a reschedule or the end.
                await workflow.wait_condition(self._moved_or_over(starts_at))
                continue
            try:
                await workflow.wait_condition(
                    self._moved_or_over(starts_at),
                    timeout=max(starts_at - lead - workflow.now(), timedelta(0)),
                    timeout_summary="pre-session brief",
                )
                continue  # moved or ended: re-arm from the session as it is now
            except TimeoutError:
                pass
            self._fired_for = starts_at
            try:
                await self._start(on_demand=False)
            except ApplicationError as error:  # logged: the page still generates on demand or serves the last brief
                workflow.logger.warning("pre-session brief not generated", extra={"error": str(error)})
