"""What a session's timers need from the outside world: the worker's timer settings, and queueing a
reminder or nudge in the outbox (delivered afterwards by ``deliver_message``)."""

from uuid import UUID

from temporalio import activity

from coach_sessions.contracts import LoadTimerSettingsInput, SessionTimerSettings, TimerMessageInput
from coach_sessions.repositories.timer_messages import TimerMessageRepository


class TimerActivities:
    def __init__(self, messages: TimerMessageRepository, settings: SessionTimerSettings) -> None:
        self._messages = messages
        self._settings = settings

    @activity.defn
    async def load_timer_settings(self, _: LoadTimerSettingsInput) -> SessionTimerSettings:
        """The worker's SESSION_REMINDERS / PENDING_NUDGE_* settings, recorded in the workflow's history
        (workflow code never reads the environment: a replay must compute the same timers)."""
        return self._settings

    @activity.defn
    async def enqueue_timer_message(self, request: TimerMessageInput) -> UUID | None:
        message_id = await self._messages.enqueue(request)
        activity.logger.info(
            "timer message",
            extra={"session_id": str(request.session_id), "key": request.key, "queued": message_id is not None},
        )
        return message_id
