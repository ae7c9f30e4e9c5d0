"""The local brief writer: deterministic rules over the retrieved events, no model, still citing sources.

Each event is tagged with a reading skill and read as a difficulty or a strength by its words; the
brief lists the difficulties and strengths in retrieval order, a practice activity per skill that is
a difficulty, and the top difficulty as the focus. Same events in, same brief out.
"""

import re

from coach_sessions.contracts import BriefContent, BriefItem, BriefSource

# skill → (words that mark it, an activity that practises it)
SKILLS: dict[str, tuple[tuple[str, ...], str]] = {
    # Checked in this order on the note's telling sentence: the first skill whose words appear wins.
    "attendance": (
        ("missed", "absent", "cancel", "reschedul", "late", "no-show", "attendance"),
        "Open with a two-minute recap of the last session to reconnect after the gap.",
    ),
    "reading at home": (
        ("reading log", "homework", "take-home", "at home", "nights"),
        "Agree five minutes of reading at home with the parent, and a simple log to tick each night.",
    ),
    "motivation": (
        ("motivat", "focus", "attention", "distract", "confiden", "reluctant to", "tired", "engage", "shy", "boring"),
        "Let the child choose the story and set a small goal with a sticker reward at the end.",
    ),
    "blends": (
        ("blend", "cluster", "consonant"),
        "Blend ladders with letter tiles: build st-, bl-, tr- words, then read them in short phrases.",
    ),
    "phonics": (
        ("phonic", "sound", "vowel", "digraph", "letter", "decod", "silent", "magic e"),
        "Sound-by-sound decoding warm-up: tap each sound, then sweep to read the whole word.",
    ),
    "sight words": (
        ("sight word", "high-frequency", "tricky word"),
        "Sight-word flash round: five tricky words, read, spell aloud and use in a sentence.",
    ),
    "vocabulary": (
        ("vocab", "meaning", "new word", "definition", "synonym", "word jar", "did not know"),
        "Word detective: pick three new words from the story, guess the meaning from context, then check.",
    ),
    "comprehension": (
        ("comprehen", "retell", "retold", "question", "infer", "main idea", "predict", "understand", "summar"),
        "Stop-and-ask reading: pause after each page for a who/why question and a one-line retell.",
    ),
    "fluency": (
        ("fluen", "wpm", "words per minute", "pace", "expression", "smooth", "phrasing", "aloud"),
        "Repeated reading: the same short passage three times, timing each read and charting the gain.",
    ),
}
DIFFICULTY = re.compile(
    r"struggl|difficult|trouble|confus|hesitat|guess|skip|frustrat|missed|absent|forgot|not yet|mix|revers"
    r"|slow|distract|reluctant|tired|cancel|needs? (more )?(practice|support|help)|errors?|stuck|avoid|lost"
    r"|still|drops?\b|rush|weak|hard\b|did not|didn't|could not|cannot|can't|only \d|boring|bored|shy",
    re.IGNORECASE,
)
STRENGTH = re.compile(
    r"enjoy|love|excit|proud|confident|favou?rite|badge|streak|level|eager|happy|laugh|engaged|great|improv"
    r"|keen|volunteer|mastered|fluently|well|smooth|progress|correct|earned|completed",
    re.IGNORECASE,
)


def skill_of(text: str, marker: re.Pattern[str] | None = None) -> str:
    """The skill of the note's telling sentence, else of the whole note, else plain "reading"."""
    for candidate in (_short(text, marker, limit=10_000), text):
        lowered = candidate.lower()
        for skill, (words, _) in SKILLS.items():
            if any(word in lowered for word in words):
                return skill
    return "reading"


def _short(text: str, marker: re.Pattern[str] | None = None, limit: int = 140) -> str:
    """The note's sentence that carries ``marker`` (else its first), cut to ``limit`` characters."""
    # A full stop after a capital ("T. rex") is not a sentence end.
    sentences = re.split(r"(?<=[a-z0-9)'\"][.!?])\s+(?=[A-Z0-9])", text.strip())
    sentence = next((x for x in sentences if marker and marker.search(x)), sentences[0])
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def local_brief(first_name: str, sources: list[BriefSource]) -> BriefContent:
    assert sources, "an empty record gets empty_record_brief(), not a written brief"
    difficulties = [s for s in sources if DIFFICULTY.search(s.text)]
    strengths = [s for s in sources if STRENGTH.search(s.text) and s not in difficulties]
    # Every list needs 1-5 cited items: fall back to the best-ranked events, said plainly.
    challenges = [
        BriefItem(text=f"{skill_of(s.text, DIFFICULTY).capitalize()}: {_short(s.text, DIFFICULTY)}", event_ids=[s.id])
        for s in difficulties[:5]
    ]
    if not challenges:
        challenges = [BriefItem(text=f"Keep practising: {_short(sources[0].text)}", event_ids=[sources[0].id])]
    motivators = [BriefItem(text=f"Builds on: {_short(s.text, STRENGTH)}", event_ids=[s.id]) for s in strengths[:5]]
    if not motivators:
        motivators = [BriefItem(text=f"Recent work to praise: {_short(sources[0].text)}", event_ids=[sources[0].id])]

    by_skill: dict[str, list[BriefSource]] = {}
    for source in difficulties or sources[:1]:
        by_skill.setdefault(skill_of(source.text, DIFFICULTY), []).append(source)
    activities = [
        BriefItem(
            text=SKILLS[skill][1]
            if skill in SKILLS
            else "Shared reading of a levelled story, child reading every other page.",
            event_ids=[s.id for s in cited],
        )
        for skill, cited in list(by_skill.items())[:5]
    ]
    top_skill, top_sources = next(iter(by_skill.items()))
    focus = BriefItem(
        text=f"Focus on {top_skill} with {first_name}: {_short(top_sources[0].text, DIFFICULTY, 100)}",
        event_ids=[s.id for s in top_sources],
    )
    return BriefContent(
        challenges=challenges, motivators=motivators, recommended_activities=activities, session_focus=focus
    )
