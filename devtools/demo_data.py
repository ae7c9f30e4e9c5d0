"""The demo's fixed cast: who the demo coaches, parents and children are, and their weekly slots.

Imported by the seeding modules (``devtools.demo`` and the ``demo_*`` modules it calls); imports none
of them, so the arrows run one way: demo → demo_learning / demo_progress → demo_data.
"""

from dataclasses import dataclass
from datetime import time
from uuid import UUID

import asyncpg

DEMO_ADMIN_ID = UUID("00000000-0000-4000-8000-00000000ad01")
DEMO_ADMIN = ("Meera Admin", "meera.admin@example.org")  # (name, email): the programme's demo admin
DEMO_COACH_EMAILS = ("asha.coach@example.org", "ravi.coach@example.org")
# (name, email, WhatsApp number) of each demo coach, in the order of DEMO_COACH_EMAILS.
COACHES = (
    ("Asha Menon", DEMO_COACH_EMAILS[0], "+919811111111"),
    ("Ravi Shankar", DEMO_COACH_EMAILS[1], "+919822222222"),
)
COACH_TIMEZONE = "Asia/Kolkata"


@dataclass(frozen=True)
class Family:
    parent: str
    phone: str
    child: str
    age: int
    coach: int  # index into COACHES
    weekdays: tuple[str, ...]
    session_time: time
    sessions: int  # in the enrollment
    # Sessions already over when the demo is seeded: all resolved but the last, which awaits the coach.
    past: int


FAMILIES = (
    Family("Meera Iyer", "+919800000001", "Aarav Iyer", 7, 0, ("tue", "thu"), time(17, 0), 16, past=10),
    Family("Farah Khan", "+919800000002", "Zoya Khan", 9, 0, ("mon", "fri"), time(18, 30), 12, past=6),
    Family("Daniel Joseph", "+919800000003", "Anna Joseph", 6, 1, ("wed", "sat"), time(10, 0), 12, past=7),
)
SESSION_MINUTES = 45
# Why each child's coach asks to cancel one upcoming session (the request awaits the parent).
CANCELLATION_REASONS = {
    "Aarav Iyer": "I am at a coaches' training day",
    "Zoya Khan": "Coach unwell: doctor's appointment",
    "Anna Joseph": "I am travelling for a family wedding",
}


async def demo_children(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """The children of the demo coaches (id, name, coach_id), by name."""
    return await pool.fetch(
        "SELECT ch.id, ch.name, ch.coach_id FROM children ch JOIN coaches co ON co.id = ch.coach_id"
        " WHERE lower(co.email) = ANY($1::text[]) ORDER BY ch.name",
        list(DEMO_COACH_EMAILS),
    )
