"""The timers a session holds, derived from its current state: pure functions (no I/O, no clock).

The SessionWorkflow arms the earliest one not yet done; because every timer is computed from the
session's *current* time, a reschedule moves them all and a cancellation or resolution removes them.
Each reminder and nudge has a key (session, timer, scheduled time): the workflow remembers the keys
it has handled, and the outbox uses the same key so that a message is queued at most once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from coach_sessions.contracts import SessionTimerSettings
from coach_sessions.models import SessionRecord
from coach_sessions.statuses import CancellationStatus, SessionStatus

TimerKind = Literal["end", "reminder", "nudge"]

# Reminders go out while the session is still to come and its time stands (not while the parent is
# being asked to agree to a cancellation: those wait for the answer).
_REMINDED_STATUSES = frozenset({SessionStatus.SCHEDULED, SessionStatus.RESCHEDULED})


@dataclass(frozen=True)
class Timer:
    kind: TimerKind
    at: datetime
    key: str
    summary: str  # what the Temporal UI shows for the armed timer
    offset: timedelta = timedelta(0)  # reminders: how long before the start
    number: int = 0  # nudges: 1, 2, ...


def describe(offset: timedelta) -> str:
    """``24h``, ``90m``, ``30s``: the way the settings spell it."""
    seconds = int(offset.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def reminder_key(session_id: object, offset: timedelta, scheduled_at: datetime) -> str:
    return f"reminder:{session_id}:{int(offset.total_seconds())}s:{scheduled_at.isoformat()}"


def nudge_key(session_id: object, number: int, scheduled_at: datetime) -> str:
    return f"nudge:{session_id}:{number}:{scheduled_at.isoformat()}"


# The statuses whose end passed with nobody resolving them: the coach is nudged. A rescheduled session
# counts as resolved for the lock, so it never turns pending, but its new time can pass forgotten just
# the same (patches.RESCHEDULED_NUDGES: runs that started before it nudge pending sessions only).
_NUDGED = frozenset({SessionStatus.PENDING})
_NUDGED_WITH_RESCHEDULED = frozenset({SessionStatus.PENDING, SessionStatus.RESCHEDULED})


def session_timers(
    session: SessionRecord, settings: SessionTimerSettings, *, nudge_rescheduled: bool = False
) -> list[Timer]:
    """Every timer of the session's current state, earliest first (done ones included)."""
    number = session.session_number
    status = SessionStatus(session.status)
    timers: list[Timer] = []
    if status == SessionStatus.SCHEDULED:
        timers.append(Timer("end", session.ends_at, f"end:{session.id}", f"session {number} end → pending"))
    if status in _REMINDED_STATUSES and session.cancellation_status != CancellationStatus.PENDING:
        for offset in settings.reminders:
            timers.append(
                Timer(
                    "reminder",
                    session.scheduled_at - offset,
                    reminder_key(session.id, offset, session.scheduled_at),
                    f"reminder {describe(offset)} before session {number}",
                    offset=offset,
                )
            )
    if status in (_NUDGED_WITH_RESCHEDULED if nudge_rescheduled else _NUDGED):
        unresolved = "still pending" if status == SessionStatus.PENDING else "rescheduled, still unresolved"
        for n in range(1, settings.nudge_max + 1):
            timers.append(
                Timer(
                    "nudge",
                    session.ends_at + settings.nudge_after + (n - 1) * settings.nudge_repeat,
                    nudge_key(session.id, n, session.scheduled_at),
                    f"nudge {n}/{settings.nudge_max}: session {number} {unresolved}",
                    number=n,
                )
            )
    return sorted(timers, key=lambda t: (t.at, t.kind != "end", -t.offset))


def worth_sending(timer: Timer, timers: list[Timer], now: datetime) -> bool:
    """Whether a reminder or nudge that has come due is still worth a message.

    A reminder late by more than its own offset (a worker down for hours) is skipped, not sent late;
    one whose later sibling (a smaller offset) is also due is superseded by it, and so is a nudge
    whose next one is due: the parent or coach gets one message, the latest that applies.
    """
    if timer.kind == "reminder" and now - timer.at > timer.offset:
        return False
    return not any(
        other.kind == timer.kind and other.at > timer.at and other.at <= now for other in timers if other is not timer
    )
