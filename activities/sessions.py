"""Session state in Postgres: load, timer-driven pending, and the coach/admin transitions."""

from datetime import UTC, datetime

from temporalio import activity

from activities.errors import business_failures_are_final
from coach_sessions import rules
from coach_sessions.contracts import (
    CheckDeadlineInput,
    LoadSessionInput,
    MarkPendingInput,
    TransitionRequest,
    TransitionResult,
)
from coach_sessions.errors import NotFound
from coach_sessions.models import SessionRecord
from coach_sessions.repositories.sessions import SessionRepository


class SessionActivities:
    def __init__(self, sessions: SessionRepository) -> None:
        self._sessions = sessions

    @activity.defn
    @business_failures_are_final
    async def load_session(self, request: LoadSessionInput) -> SessionRecord:
        record = await self._sessions.get(request.session_id)
        if record is None:
            raise NotFound()
        return record

    @activity.defn
    @business_failures_are_final
    async def mark_pending(self, request: MarkPendingInput) -> SessionRecord:
        return await self._sessions.mark_pending(request.session_id, request.now)

    @activity.defn
    @business_failures_are_final
    async def check_deadline(self, request: CheckDeadlineInput) -> None:
        """Refuse an action whose caller has stopped waiting (this host's clock, like the transition's)."""
        rules.refuse_after_deadline(request.deadline, datetime.now(UTC))

    @activity.defn
    @business_failures_are_final
    async def apply_transition(self, request: TransitionRequest) -> TransitionResult:
        activity.logger.info(
            "session transition",
            extra={"session_id": str(request.session_id), "action": request.action.value},
        )
        return await self._sessions.apply(request)
