"""The timers a SessionWorkflow holds: its end, the parent's reminders, the coach's nudges.

In the manner of Temporal's ``updatable_timer_lib`` sample: the workflow's main loop asks for the next
timer of the session's *current* state (``coach_sessions.timers``), waits for it or for a change (an
update moves the session's time: the timers are then recomputed), and fires what has come due. Each
armed timer carries a summary ("reminder 24h before session 3") that the Temporal UI shows.

A reminder or nudge is handled once per key (session + timer + scheduled time): the key is remembered
here (and carried over a continue-as-new) and is also the outbox's idempotency key, so a retried or
replayed send queues the message once.
"""

from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from uuid import UUID

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import SessionTimerSettings, SessionWorkflowInput, TimerMessageInput
    from coach_sessions.models import SessionRecord
    from coach_sessions.timers import Timer, session_timers, worth_sending
    from workflows import patches, steps
    from workflows.session_machinery import BackgroundTasks


class SessionTimers:
    def __init__(
        self, settings: SessionTimerSettings, done: Iterable[str], tasks: BackgroundTasks, *, nudge_rescheduled: bool
    ) -> None:
        self.settings = settings
        self._nudge_rescheduled = nudge_rescheduled  # patches.RESCHEDULED_NUDGES
        self._done = set(done)  # keys of the reminders and nudges already sent or skipped
        self._tasks = tasks

    @classmethod
    async def start(cls, request: SessionWorkflowInput, tasks: BackgroundTasks) -> "SessionTimers":
        """The settings from the input (a continue-as-new, a test) or else from the worker."""
        settings = request.timers if request.timers is not None else await steps.load_timer_settings()
        # Asked once, at the start of the run: a run that began before the change replays without it.
        nudge_rescheduled = workflow.patched(patches.RESCHEDULED_NUDGES)
        return cls(settings, request.done_timers, tasks, nudge_rescheduled=nudge_rescheduled)

    def _timers(self, session: SessionRecord) -> list[Timer]:
        return session_timers(session, self.settings, nudge_rescheduled=self._nudge_rescheduled)

    def next(self, session: SessionRecord) -> Timer | None:
        return next((t for t in self._timers(session) if t.key not in self._done), None)

    async def wait(self, session: SessionRecord, woken: Callable[[], bool]) -> bool:
        """Wait for the next timer (True) or until ``woken()`` (False: recompute from the new state)."""
        timer = self.next(session)
        timeout = max(timer.at - workflow.now(), timedelta(0)) if timer else None
        try:
            await workflow.wait_condition(woken, timeout=timeout, timeout_summary=timer.summary if timer else None)
            return False
        except TimeoutError:
            return True

    async def fire_due(self, session: SessionRecord, mark_pending: Callable[[], Awaitable[None]]) -> None:
        """Send (or skip) every reminder and nudge that has come due; the end timer marks the session pending."""
        now = workflow.now()
        timers = self._timers(session)
        for timer in timers:
            if timer.at > now or timer.key in self._done:
                continue
            if timer.kind == "end":
                await mark_pending()
                return  # the state changed: the loop computes the pending session's timers
            self._done.add(timer.key)
            if not worth_sending(timer, timers, now):
                workflow.logger.info("timer skipped (late or superseded)", extra={"key": timer.key})
                continue
            message_id = await steps.enqueue_timer_message(
                TimerMessageInput(
                    session_id=session.id,
                    kind="reminder" if timer.kind == "reminder" else "nudge",
                    key=timer.key,
                    scheduled_at=session.scheduled_at,
                    nudge_number=timer.number,
                )
            )
            if message_id is not None:
                self._tasks.spawn(steps.deliver_message(message_id))

    # ----- continue-as-new ---------------------------------------------------------------------

    def continue_as_new_due(self) -> bool:
        """Temporal suggests it (history size), or the history passed the configured number of events."""
        info = workflow.info()
        limit = self.settings.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (limit is not None and info.get_current_history_length() >= limit)

    def next_run(self, session_id: UUID, session: SessionRecord) -> SessionWorkflowInput:
        """The input of the next run: the same settings and the reminders/nudges of the current time
        already handled (older keys belong to times the session no longer has)."""
        current = {t.key for t in self._timers(session)}
        return SessionWorkflowInput(
            session_id=session_id, timers=self.settings, done_timers=sorted(self._done & current)
        )
