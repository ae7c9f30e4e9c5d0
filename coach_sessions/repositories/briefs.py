"""Stored pre-session briefs, their freshness, and what a brief is generated from."""

import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from coach_sessions.contracts import BriefContent, BriefSource, SessionBrief


@dataclass(frozen=True)
class BriefContext:
    """What the prompt may carry about the child (first name and age only: no contact details)."""

    session_id: UUID
    child_id: UUID
    child_first_name: str
    child_age: int
    session_number: int
    scheduled_at: datetime
    # Hints for the search: recent sessions' notes and the last brief's open challenges.
    query_text: str
    record_as_of: datetime
    # What names or reaches the family beyond the first name (the child's surname, the parent's name,
    # phone and email): masked wherever a note quotes it before a prompt leaves this service.
    withheld: tuple[str, ...] = ()


_CONTEXT_SQL = """
SELECT s.id, s.child_id, s.session_number, s.scheduled_at, c.name, c.age, clock_timestamp() AS now,
       pa.name AS parent_name, pa.phone AS parent_phone, pa.email AS parent_email,
       (SELECT string_agg(p.coach_notes, ' ')
          FROM (SELECT coach_notes FROM scheduled_sessions
                 WHERE child_id = s.child_id AND session_number < s.session_number AND coach_notes IS NOT NULL
                 ORDER BY session_number DESC LIMIT 3) p) AS notes,
       (SELECT string_agg(item ->> 'text', ' ')
          FROM (SELECT b.brief FROM session_briefs b JOIN scheduled_sessions p ON p.id = b.session_id
                 WHERE b.child_id = s.child_id AND p.session_number < s.session_number
                 ORDER BY p.session_number DESC LIMIT 1) last,
               jsonb_array_elements(last.brief -> 'challenges') item) AS open_challenges
  FROM scheduled_sessions s JOIN children c ON c.id = s.child_id JOIN parents pa ON pa.id = c.parent_id
 WHERE s.id = $1
"""

# The stored brief and its freshness in one statement (also run by the benchmark's bare floor app).
STORED_SQL = """
SELECT b.*, EXISTS (SELECT 1 FROM learning_events l
                     WHERE l.child_id = b.child_id AND l.created_at > b.record_as_of) AS stale
  FROM session_briefs b WHERE b.session_id = $1
"""


def withheld_of(child_name: str, parent_name: str, parent_phone: str, parent_email: str | None) -> tuple[str, ...]:
    """The child's surname words, the parent's full name, phone (with and without ``+``, and its last ten
    digits: how a note may write it) and email."""
    surname = [word for word in child_name.split()[1:] if len(word) >= 2]
    digits = parent_phone.lstrip("+")
    values = [*surname, parent_name.strip(), parent_phone, digits, digits[-10:], parent_email or ""]
    return tuple(dict.fromkeys(v for v in values if len(v) >= 2))


class BriefRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    async def context(self, session_id: UUID) -> BriefContext | None:
        row = await self._pool.fetchrow(_CONTEXT_SQL, session_id)
        if row is None:
            return None
        hints = [
            f"session {row['session_number']} reading progress",
            "struggles difficulty confident enjoys motivated",
            row["notes"] or "",
            row["open_challenges"] or "",
        ]
        return BriefContext(
            session_id=row["id"],
            child_id=row["child_id"],
            child_first_name=row["name"].split()[0],
            child_age=row["age"],
            session_number=row["session_number"],
            scheduled_at=row["scheduled_at"],
            query_text=" ".join(h for h in hints if h),
            record_as_of=row["now"],
            withheld=withheld_of(row["name"], row["parent_name"], row["parent_phone"], row["parent_email"]),
        )

    async def store(
        self, context: BriefContext, content: BriefContent, sources: list[BriefSource], model: str
    ) -> SessionBrief:
        row = await self._pool.fetchrow(
            """
            INSERT INTO session_briefs (session_id, child_id, brief, sources, model, record_as_of, generated_at)
            VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp())
            ON CONFLICT (session_id) DO UPDATE
               SET brief = EXCLUDED.brief, sources = EXCLUDED.sources, model = EXCLUDED.model,
                   record_as_of = EXCLUDED.record_as_of, generated_at = EXCLUDED.generated_at
            RETURNING generated_at
            """,
            context.session_id,
            context.child_id,
            json.loads(content.model_dump_json()),
            [json.loads(s.model_dump_json()) for s in sources],
            model,
            context.record_as_of,
        )
        return SessionBrief(
            session_id=context.session_id,
            **content.model_dump(),
            sources=sources,
            generated_at=row["generated_at"],
            model=model,
        )

    async def stored(self, session_id: UUID) -> SessionBrief | None:
        """The stored brief, ``stale`` when the child has an event newer than the record it was made from."""
        row = await self._pool.fetchrow(STORED_SQL, session_id)
        if row is None:
            return None
        return SessionBrief(
            session_id=row["session_id"],
            **row["brief"],
            sources=row["sources"],
            generated_at=row["generated_at"],
            model=row["model"],
            stale=row["stale"],
        )
