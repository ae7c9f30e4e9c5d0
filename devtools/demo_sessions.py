"""The demo's session history: programmes that began weeks ago, their past sessions resolved.

Each demo enrollment starts on the day that puts exactly ``Family.past`` of its sessions behind the
moment it is seeded. Its sessions are created as the EnrollmentWorkflow creates them (those already
over start ``pending``); then every past session but the last is resolved as its coach resolved it:
through ``SessionRepository.apply``, the transition the SessionWorkflow's activity runs, dated just
after the session ended, with the notes of its ``Lesson``. So status, ``completed_at``, coach notes
and the ``session_completed`` / ``session_missed`` learning events are what the app itself writes.
The last past session stays ``pending``: it awaits the coach.

This all happens before any SessionWorkflow exists: a session already resolved when its workflow
starts loads as terminal and its workflow ends at once (``SessionWorkflow.run``), so the database and
Temporal agree. The summaries those completions queued for the parent are recorded as sent then
(the parent had them at the time; nothing is sent now). Calendar events of the past sessions are
written once, through the configured calendar provider, as their workflows would have at the time.
"""

import logging
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from activities.calendar import CalendarActivities
from activities.sessions import run_transition
from coach_sessions.contracts import Actor, SessionAction, SyncCalendarInput, TransitionRequest
from coach_sessions.providers.calendar import CalendarProvider
from coach_sessions.repositories.enrollments import EnrollmentRepository
from coach_sessions.repositories.sessions import SessionRepository, transition_key
from coach_sessions.scheduling import WEEKDAYS
from coach_sessions.statuses import ACTIONABLE_STATUSES, CalendarSyncStatus, SessionStatus
from devtools.demo_data import COACH_TIMEZONE, SESSION_MINUTES, Family
from devtools.demo_learning import Lesson, PastSession

log = logging.getLogger("devtools.demo")

REQUEST_ID = "demo-seed"  # the request id of every transition the seed applies (one per session)
RESOLVED_AFTER = timedelta(minutes=5)  # after the session's end, the coach writes it up


def start_date(family: Family, now: datetime) -> date:
    """The day of the slot that puts exactly ``family.past`` sessions over by ``now``."""
    zone = ZoneInfo(COACH_TIMEZONE)
    wanted = {WEEKDAYS.index(day) for day in family.weekdays}
    day, over = now.astimezone(zone).date(), 0
    while True:
        if day.weekday() in wanted:
            start = datetime.combine(day, family.session_time, tzinfo=zone)
            if start + timedelta(minutes=SESSION_MINUTES) <= now:
                over += 1
                if over == family.past:
                    return day
        day -= timedelta(days=1)


async def seed_history(
    pool: asyncpg.Pool,
    enrollment_id: UUID,
    coach_id: UUID,
    lessons: list[Lesson],
    calendar: CalendarProvider,
    now: datetime,
) -> list[PastSession]:
    """Create the enrollment's sessions and resolve the first ``len(lessons)``; idempotent."""
    await EnrollmentRepository(pool).create_sessions(enrollment_id, now)
    repo = SessionRepository(pool)
    calendar_sync = CalendarActivities(repo, calendar)
    sessions = await _past_sessions(pool, enrollment_id, len(lessons))
    for lesson, session in zip(lessons, sessions, strict=True):
        if session["calendar_sync_status"] != CalendarSyncStatus.SYNCED:
            try:
                await calendar_sync.sync_calendar(SyncCalendarInput(session_id=session["id"]))
            except Exception as error:  # history: a calendar that cannot be reached leaves it "pending"
                log.warning("demo: past session's calendar event not written", extra={"error": repr(error)})
        resolved_at = session["scheduled_at"] + timedelta(minutes=session["duration_minutes"]) + RESOLVED_AFTER
        if SessionStatus(session["status"]) not in ACTIONABLE_STATUSES or resolved_at > now:
            continue  # resolved already (an earlier run), or not over yet: nothing to write up
        await run_transition(
            repo,
            TransitionRequest(
                session_id=session["id"],
                action=SessionAction.MARK_MISSED if lesson.missed else SessionAction.COMPLETE,
                request_id=REQUEST_ID,
                actor=Actor(id=coach_id, role="coach"),
                now=resolved_at,
                notes=lesson.notes,
                notify_parent=False,  # the parent had told the coach (the notes say so)
            ),
        )
        await pool.execute(
            "UPDATE outbound_messages SET status = 'sent', sent_at = $2, attempts = 1, provider = 'demo-seed',"
            " updated_at = $2 WHERE idempotency_key LIKE $1 || ':%' AND status = 'queued'",
            transition_key(session["id"], REQUEST_ID),
            resolved_at,
        )
    return [
        PastSession(
            id=r["id"],
            number=r["session_number"],
            scheduled_at=r["scheduled_at"],
            duration_minutes=r["duration_minutes"],
            status=r["status"],
        )
        for r in await _past_sessions(pool, enrollment_id, len(lessons))
    ]


async def _past_sessions(pool: asyncpg.Pool, enrollment_id: UUID, count: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT id, session_number, scheduled_at, duration_minutes, status, calendar_sync_status"
        " FROM scheduled_sessions WHERE enrollment_id = $1 AND session_number <= $2 ORDER BY session_number",
        enrollment_id,
        count,
    )
