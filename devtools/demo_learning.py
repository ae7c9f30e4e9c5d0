# ruff: noqa: E501  (the notes are data: one line each reads better than wrapped strings)
"""Demo learning records for `make run`: several weeks of a reading coach's notes for each demo child.

Finds the demo children the way the demo seed creates them (children of the two demo coaches, by
name), and writes each note once: every row has an idempotency key, so running this again adds
nothing. Embedding happens later in the worker (the first brief embeds what is missing).
"""

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from devtools.demo_data import demo_children

# (days before now, event type, event data, what the coach wrote) per demo child, oldest first.
Note = tuple[int, str, dict[str, Any], str]
NOTES: dict[str, list[Note]] = {
    "Aarav Iyer": [
        (
            38,
            "assessment",
            {"kind": "baseline", "wpm": 28},
            "Baseline: 28 words per minute on a level 3 text; knows most letter sounds but guesses long words from the first letter.",
        ),
        (
            35,
            "session",
            {"skill": "blends"},
            "Aarav drops the second consonant in blends: read 'sop' for 'stop' and 'fog' for 'frog'. Started blend ladders with letter tiles.",
        ),
        (
            33,
            "session",
            {"skill": "phonics"},
            "Short vowels are secure. Mixed up b and d four times in the word list; we traced both with a finger and said the sound.",
        ),
        (
            30,
            "quiz",
            {"score": 6, "out_of": 10},
            "Blends quiz: 6/10. st-, sl- and fl- fine; tr-, gr- and spr- still hard.",
        ),
        (
            28,
            "session",
            {"skill": "motivation"},
            "Very excited about the dinosaur books - asked to take 'Dino Dig' home. Reads longer when the topic is his.",
        ),
        (
            26,
            "session_missed",
            {"reason": "school trip"},
            "Session missed: school trip ran late. Mother messaged the day before.",
        ),
        (
            23,
            "session",
            {"skill": "fluency"},
            "Repeated reading of the dinosaur passage three times: 31, 36, 40 wpm. Still word by word, no phrasing yet.",
        ),
        (
            21,
            "badge",
            {"badge": "5-day streak"},
            "Earned the 5-day reading streak badge and told me proudly at the start of the session.",
        ),
        (
            19,
            "session",
            {"skill": "blends"},
            "Initial blends much better: 'plant', 'crab', 'snack' first try. End blends (-nd, -mp) are the weak spot: 'jump' came out as 'jup'.",
        ),
        (
            16,
            "session",
            {"skill": "comprehension"},
            "Retold the story in order but could not say why the little T. rex was scared. 'Why' questions need modelling.",
        ),
        (
            14,
            "session",
            {"skill": "motivation"},
            "Tired and distracted after school cricket; kept the session short with a movement break and the sticker chart.",
        ),
        (
            12,
            "assessment",
            {"kind": "fluency", "wpm": 41},
            "Fluency check: 41 wpm on a level 4 text, up from 28 at baseline. Ignores full stops and runs sentences together.",
        ),
        (
            9,
            "session",
            {"skill": "vocabulary"},
            "New words from the dinosaur book: enormous, fossil, ancient. Used 'enormous' in his own sentence.",
        ),
        (
            5,
            "session",
            {"skill": "blends"},
            "End blends practice with word sorts: -nd, -st, -mp. 8/10 correct; still rushes and drops the last sound when reading aloud.",
        ),
        (
            2,
            "session",
            {"kind": "homework", "done": 4, "of": 5},
            "Reading log: 4 of 5 nights, signed by his mother. Chose two dinosaur books himself.",
        ),
    ],
    "Zoya Khan": [
        (
            20,
            "assessment",
            {"kind": "baseline", "wpm": 74},
            "Baseline: decodes fluently at 74 wpm on a level 8 text, but answered only 2 of 6 comprehension questions.",
        ),
        (
            18,
            "session",
            {"skill": "comprehension"},
            "Zoya reads quickly and accurately but cannot say what the chapter was about. Practised stopping after each page to retell.",
        ),
        (
            16,
            "session",
            {"skill": "comprehension"},
            "Who and where questions fine; why and how questions hard. Used a first-next-last chart to order events.",
        ),
        (
            14,
            "session",
            {"skill": "vocabulary"},
            "Did not know 'reluctant', 'cottage' or 'glimmer'. Started a word jar; she chose the words herself.",
        ),
        (
            12,
            "session",
            {"skill": "motivation"},
            "Said reading is boring. Switched to a graphic novel and she engaged for the whole session, laughing at the jokes.",
        ),
        (
            11,
            "session_rescheduled",
            {"reason": "tuition clash"},
            "Rescheduled to Saturday morning at the parent's request: Monday tuition clash.",
        ),
        (9, "quiz", {"score": 8, "out_of": 10}, "Word-meaning quiz: 8/10, confused 'brave' with 'proud'."),
        (
            7,
            "session",
            {"skill": "comprehension"},
            "Made a good prediction about the ending from the clues on the cover. Inference is coming when she slows down.",
        ),
        (
            6,
            "session",
            {"skill": "fluency"},
            "Reading pace is too fast for understanding: agreed a 'pause at every full stop' rule; comprehension answers improved to 4 of 6.",
        ),
        (
            4,
            "video",
            {"title": "Finding the main idea"},
            "Watched the main-idea video together; she summarised the bees article in one sentence with one prompt.",
        ),
        (
            2,
            "session",
            {"kind": "homework", "done": 2, "of": 5},
            "Reading log only 2 of 5 nights; parent says evenings are busy with tuition.",
        ),
        (
            1,
            "session",
            {"skill": "motivation"},
            "Proud to finish her first graphic novel chapter book; asked for the next in the series.",
        ),
    ],
    "Anna Joseph": [
        (
            30,
            "assessment",
            {"kind": "baseline", "letters": 18},
            "Baseline: knows 18 of 26 letter sounds; confuses p/q and b/d; reads 3-letter CVC words with help.",
        ),
        (
            28,
            "session",
            {"skill": "phonics"},
            "Letter-sound games with picture cards. Anna says 'f' for 'th' ('fink' for 'think'); practised tongue position in the mirror.",
        ),
        (
            25,
            "session",
            {"skill": "phonics"},
            "Introduced the sh and ch digraphs: read 'ship', 'chip', 'shop' with support. Loves the 'shhh' action.",
        ),
        (
            23,
            "session",
            {"skill": "sight words"},
            "Sight words: knows 'the', 'and', 'is'; still sounds out 'said' and 'was'.",
        ),
        (
            21,
            "badge",
            {"badge": "letter hero"},
            "Earned the letter-hero badge for 22 of 26 sounds; beaming for the rest of the session.",
        ),
        (
            18,
            "session",
            {"skill": "phonics"},
            "CVC blending is smoother: 'cat', 'map', 'sun' without finger pointing. Vowel sounds in the middle still slip (reads 'pin' as 'pen').",
        ),
        (16, "session_missed", {"reason": "unwell"}, "Missed: Anna had a fever. Father informed an hour before."),
        (
            14,
            "session",
            {"skill": "motivation"},
            "Shy about reading aloud at first; warmed up after choosing the cat story and reading it to her toy.",
        ),
        (11, "quiz", {"score": 7, "out_of": 10}, "Digraph quiz: 7/10. sh and ch secure, th still 'f'."),
        (
            9,
            "session",
            {"skill": "vocabulary"},
            "New words from the cat story: whisker, purr, curl. Acted each one out; remembered all three next time.",
        ),
        (
            7,
            "session",
            {"skill": "fluency"},
            "Read a 40-word decodable book twice; second read much smoother, pointing only at tricky words.",
        ),
        (
            4,
            "session",
            {"skill": "phonics"},
            "Magic e introduced: 'kit' to 'kite', 'hop' to 'hope'. Understood the idea, needs more practice.",
        ),
        (
            2,
            "session",
            {"kind": "homework", "done": 5, "of": 5},
            "Reading log 5 of 5 nights - read the cat book to her grandmother every evening.",
        ),
    ],
}


async def seed_learning_events(pool: asyncpg.Pool, now: datetime) -> None:
    """Write the demo notes of every demo child found (idempotent; children not found are skipped)."""
    rows = await demo_children(pool)
    async with pool.acquire() as conn, conn.transaction():
        for child in rows:
            for number, (days_ago, event_type, data, text) in enumerate(NOTES.get(child["name"], [])):
                await conn.execute(
                    "INSERT INTO learning_events (child_id, coach_id, event_type, event_date, event_data,"
                    " content_for_embedding, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    " ON CONFLICT (idempotency_key) DO NOTHING",
                    child["id"],
                    child["coach_id"],
                    event_type,
                    now - timedelta(days=days_ago, hours=number % 5),
                    data,
                    text,
                    f"demo-learning:{child['id']}:{number}",
                )
