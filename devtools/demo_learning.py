# ruff: noqa: E501  (the notes are data: one line each reads better than wrapped strings)
"""Demo learning records for `make run`: what a reading coach wrote at each of a demo child's past sessions.

``LESSONS[child]`` holds one entry per resolved session, in session order: the notes the session was
completed (or marked missed) with, the further notes the coach added during it (a baseline, a quiz, a
badge...), and the homework given. ``devtools.demo_sessions`` resolves the sessions with those notes;
``seed_learning_events`` writes the further notes, each dated within its own session and tied to it.
Every row has an idempotency key, so running this again adds nothing. Embedding happens later in
the worker (the first brief embeds what is missing).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

# (event type, event data, what the coach wrote): one further note of a session.
Note = tuple[str, dict[str, Any], str]


@dataclass(frozen=True)
class Lesson:
    notes: str  # what the session was resolved with (the coach's notes on it)
    missed: bool = False
    events: tuple[Note, ...] = ()
    homework: str | None = None  # given at this session, due a week later
    homework_done: tuple[str, ...] = ()  # earlier homework the coach marks done at this session


LESSONS: dict[str, list[Lesson]] = {
    "Aarav Iyer": [
        Lesson(
            "First session: a reading check, then letter-sound bingo. Settled in quickly and asked for more.",
            events=(
                (
                    "assessment",
                    {"kind": "baseline", "wpm": 28},
                    "Baseline: 28 words per minute on a level 3 text; knows most letter sounds but guesses long words from the first letter.",
                ),
            ),
        ),
        Lesson(
            "Aarav drops the second consonant in blends: read 'sop' for 'stop' and 'fog' for 'frog'. Started blend ladders with letter tiles."
        ),
        Lesson(
            "Short vowels are secure. Mixed up b and d four times in the word list; we traced both with a finger and said the sound.",
            events=(
                (
                    "quiz",
                    {"score": 6, "out_of": 10},
                    "Blends quiz: 6/10. st-, sl- and fl- fine; tr-, gr- and spr- still hard.",
                ),
            ),
        ),
        Lesson(
            "Very excited about the dinosaur books - asked to take 'Dino Dig' home. Reads longer when the topic is his.",
            homework="Read 'Dino Dig' aloud to a parent",
        ),
        Lesson("Session missed: school trip ran late. Mother messaged the day before.", missed=True),
        Lesson(
            "Repeated reading of the dinosaur passage three times: 31, 36, 40 wpm. Still word by word, no phrasing yet.",
            events=(
                (
                    "badge",
                    {"badge": "5-day streak"},
                    "Earned the 5-day reading streak badge and told me proudly at the start of the session.",
                ),
            ),
            homework="Practise the -nd and -mp word cards",
            homework_done=("Read 'Dino Dig' aloud to a parent",),
        ),
        Lesson(
            "Initial blends much better: 'plant', 'crab', 'snack' first try. End blends (-nd, -mp) are the weak spot: 'jump' came out as 'jup'.",
            events=(
                (
                    "session",
                    {"skill": "comprehension"},
                    "Retold the story in order but could not say why the little T. rex was scared. 'Why' questions need modelling.",
                ),
            ),
        ),
        Lesson(
            "Tired and distracted after school cricket; kept the session short with a movement break and the sticker chart.",
            events=(
                (
                    "assessment",
                    {"kind": "fluency", "wpm": 41},
                    "Fluency check: 41 wpm on a level 4 text, up from 28 at baseline. Ignores full stops and runs sentences together.",
                ),
            ),
            homework="Write three sentences about a dinosaur",
        ),
        Lesson(
            "New words from the dinosaur book: enormous, fossil, ancient. Used 'enormous' in his own sentence.",
            events=(
                (
                    "session",
                    {"skill": "blends"},
                    "End blends practice with word sorts: -nd, -st, -mp. 8/10 correct; still rushes and drops the last sound when reading aloud.",
                ),
                (
                    "session",
                    {"kind": "homework", "done": 4, "of": 5},
                    "Reading log: 4 of 5 nights, signed by his mother. Chose two dinosaur books himself.",
                ),
            ),
            homework="Re-read 'Dino Dig' chapter 2 and underline new words",
            homework_done=("Write three sentences about a dinosaur",),
        ),
    ],
    "Zoya Khan": [
        Lesson(
            "Zoya reads quickly and accurately but cannot say what the chapter was about. Practised stopping after each page to retell.",
            events=(
                (
                    "assessment",
                    {"kind": "baseline", "wpm": 74},
                    "Baseline: decodes fluently at 74 wpm on a level 8 text, but answered only 2 of 6 comprehension questions.",
                ),
            ),
        ),
        Lesson(
            "Who and where questions fine; why and how questions hard. Used a first-next-last chart to order events.",
            events=(
                (
                    "session",
                    {"skill": "vocabulary"},
                    "Did not know 'reluctant', 'cottage' or 'glimmer'. Started a word jar; she chose the words herself.",
                ),
            ),
            homework="Add five new words to the word jar",
        ),
        Lesson("Session missed: tuition ran late. Her mother messaged an hour after the start.", missed=True),
        Lesson(
            "Said reading is boring. Switched to a graphic novel and she engaged for the whole session, laughing at the jokes.",
            events=(("quiz", {"score": 8, "out_of": 10}, "Word-meaning quiz: 8/10, confused 'brave' with 'proud'."),),
            homework="Read one graphic-novel chapter and retell it in three sentences",
            homework_done=("Add five new words to the word jar",),
        ),
        Lesson(
            "Made a good prediction about the ending from the clues on the cover. Inference is coming when she slows down.",
            events=(
                (
                    "session",
                    {"skill": "fluency"},
                    "Reading pace is too fast for understanding: agreed a 'pause at every full stop' rule; comprehension answers improved to 4 of 6.",
                ),
                (
                    "video",
                    {"title": "Finding the main idea"},
                    "Watched the main-idea video together; she summarised the bees article in one sentence with one prompt.",
                ),
                (
                    "session",
                    {"kind": "homework", "done": 2, "of": 5},
                    "Reading log only 2 of 5 nights; parent says evenings are busy with tuition.",
                ),
                (
                    "session",
                    {"skill": "motivation"},
                    "Proud to finish her first graphic novel chapter book; asked for the next in the series.",
                ),
            ),
            homework="Write the main idea of the bees article in one sentence",
        ),
    ],
    "Anna Joseph": [
        Lesson(
            "Letter-sound games with picture cards. Anna says 'f' for 'th' ('fink' for 'think'); practised tongue position in the mirror.",
            events=(
                (
                    "assessment",
                    {"kind": "baseline", "letters": 18},
                    "Baseline: knows 18 of 26 letter sounds; confuses p/q and b/d; reads 3-letter CVC words with help.",
                ),
            ),
        ),
        Lesson(
            "Introduced the sh and ch digraphs: read 'ship', 'chip', 'shop' with support. Loves the 'shhh' action.",
            homework="Practise the 'sh' and 'ch' sound cards",
        ),
        Lesson(
            "Sight words: knows 'the', 'and', 'is'; still sounds out 'said' and 'was'.",
            events=(
                (
                    "badge",
                    {"badge": "letter hero"},
                    "Earned the letter-hero badge for 22 of 26 sounds; beaming for the rest of the session.",
                ),
            ),
            homework="Find 'said' and 'was' in a picture book",
        ),
        Lesson("Missed: Anna had a fever. Father informed an hour before.", missed=True),
        Lesson(
            "CVC blending is smoother: 'cat', 'map', 'sun' without finger pointing. Vowel sounds in the middle still slip (reads 'pin' as 'pen').",
            events=(
                (
                    "session",
                    {"skill": "motivation"},
                    "Shy about reading aloud at first; warmed up after choosing the cat story and reading it to her toy.",
                ),
                ("quiz", {"score": 7, "out_of": 10}, "Digraph quiz: 7/10. sh and ch secure, th still 'f'."),
            ),
            homework="Read the cat story to someone at home",
            homework_done=("Practise the 'sh' and 'ch' sound cards",),
        ),
        Lesson(
            "Magic e introduced: 'kit' to 'kite', 'hop' to 'hope'. Understood the idea, needs more practice.",
            events=(
                (
                    "session",
                    {"skill": "vocabulary"},
                    "New words from the cat story: whisker, purr, curl. Acted each one out; remembered all three next time.",
                ),
                (
                    "session",
                    {"skill": "fluency"},
                    "Read a 40-word decodable book twice; second read much smoother, pointing only at tricky words.",
                ),
                (
                    "session",
                    {"kind": "homework", "done": 5, "of": 5},
                    "Reading log 5 of 5 nights - read the cat book to her grandmother every evening.",
                ),
            ),
            homework="Find three magic-e words in a book",
            homework_done=("Read the cat story to someone at home",),
        ),
    ],
}

# Minutes into a session at which its further notes are written (the first, the second, ...).
NOTE_MINUTES = (10, 25, 35, 40)


@dataclass(frozen=True)
class PastSession:
    """A resolved demo session as the other seeding steps need it."""

    id: UUID
    number: int
    scheduled_at: datetime
    duration_minutes: int
    status: str

    @property
    def ends_at(self) -> datetime:
        return self.scheduled_at + timedelta(minutes=self.duration_minutes)


async def seed_learning_events(
    pool: asyncpg.Pool, child_id: UUID, coach_id: UUID, lessons: list[Lesson], sessions: list[PastSession]
) -> None:
    """Write the further notes of each resolved session (idempotent), dated within that session."""
    async with pool.acquire() as conn, conn.transaction():
        for lesson, session in zip(lessons, sessions, strict=False):
            for index, (event_type, data, text) in enumerate(lesson.events):
                await conn.execute(
                    "INSERT INTO learning_events (child_id, coach_id, session_id, event_type, event_date, event_data,"
                    " content_for_embedding, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    " ON CONFLICT (idempotency_key) DO NOTHING",
                    child_id,
                    coach_id,
                    session.id,
                    event_type,
                    session.scheduled_at + timedelta(minutes=NOTE_MINUTES[index % len(NOTE_MINUTES)]),
                    data,
                    text,
                    f"demo-learning:{session.id}:{index}",
                )
