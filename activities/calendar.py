"""Keeping a session's calendar event in step with the session (Google Calendar or the local stand-in).

``sync_calendar`` reconciles rather than replays: it reads the session as it is now and makes the
calendar match (create with a Meet link, move, or cancel). So one activity serves creation,
reschedule and cancellation, and running it twice — a retry, or two changes in a row — is harmless.
"""

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import CALENDAR_REJECTED
from coach_sessions.contracts import RecordCalendarFailureInput, SyncCalendarInput
from coach_sessions.providers.calendar import (
    CalendarEventSpec,
    CalendarProvider,
    CalendarRejectedError,
    CalendarTransientError,
)
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.statuses import CalendarSyncStatus, SessionStatus


def calendar_event_id(session_id: object) -> str:
    """Deterministic Google event id (base32hex: 0-9a-v): a retried insert hits the same event."""
    return str(session_id).replace("-", "")


class CalendarActivities:
    def __init__(self, sessions: SessionRepository, calendar: CalendarProvider) -> None:
        self._sessions = sessions
        self._calendar = calendar

    @activity.defn
    async def sync_calendar(self, request: SyncCalendarInput) -> str:
        session = await self._sessions.calendar_context(request.session_id)
        if session is None:
            return "missing"
        log_context = {"session_id": str(request.session_id), "provider": self._calendar.name}
        event_id = session["google_event_id"] or calendar_event_id(session["id"])
        calendar_id = session["calendar_id"] or session["coach_email"]
        try:
            if session["status"] == SessionStatus.CANCELLED:
                await self._calendar.cancel_event(calendar_id, event_id, session["coach_email"])
                await self._sessions.record_calendar_event(
                    request.session_id,
                    google_event_id=session["google_event_id"],
                    meet_link=None,
                    synced=session,
                )
                return "cancelled"
            event = await self._calendar.upsert_event(
                CalendarEventSpec(
                    calendar_id=calendar_id,
                    event_id=event_id,
                    summary=f"Reading session {session['session_number']}: {session['child_name']}",
                    description=f"Coach: {session['coach_name']}. Session {session['session_number']}.",
                    start=session["scheduled_at"],
                    end=session["scheduled_at"] + timedelta(minutes=session["duration_minutes"]),
                    timezone=session["timezone"],
                    subject=session["coach_email"],
                )
            )
        except CalendarRejectedError as error:
            activity.logger.error("calendar refused the change", extra=log_context | {"error": str(error)})
            raise ApplicationError(str(error), type=CALENDAR_REJECTED, non_retryable=True) from error
        except CalendarTransientError as error:
            # Stays "pending" with the reason visible; Temporal retries with backoff.
            activity.logger.warning("calendar unavailable, will retry", extra=log_context | {"error": str(error)})
            await self._sessions.record_calendar_sync(
                request.session_id, CalendarSyncStatus.PENDING, f"retrying: {error}"
            )
            raise
        await self._sessions.record_calendar_event(
            request.session_id,
            google_event_id=event.event_id,
            meet_link=event.meet_link,
            synced=session,
        )
        return "synced"

    @activity.defn
    async def record_calendar_failure(self, request: RecordCalendarFailureInput) -> None:
        await self._sessions.record_calendar_sync(request.session_id, CalendarSyncStatus.FAILED, request.error)
