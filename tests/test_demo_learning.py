"""The demo learning record: one lesson per resolved session, varied, consistent, and enough for a brief."""

from datetime import timedelta

import asyncpg
from temporalio.testing import WorkflowEnvironment

from devtools.demo_data import FAMILIES
from devtools.demo_learning import LESSONS, NOTE_MINUTES, Note
from tests.factories import make_family, make_sessions, now_utc
from tests.helpers import api_client, auth, running_worker


def test_each_child_has_a_lesson_per_resolved_session_and_consistent_homework() -> None:
    assert set(LESSONS) == {f.child for f in FAMILIES}
    for family in FAMILIES:
        lessons = LESSONS[family.child]
        assert len(lessons) == family.past - 1  # the last past session awaits the coach
        assert family.sessions >= family.past + 3  # then the next, the one to cancel, and more
        assert any(lesson.missed for lesson in lessons) and sum(not lesson.missed for lesson in lessons) >= 4
        given: list[str] = []
        for lesson in lessons:
            assert not (lesson.missed and (lesson.events or lesson.homework or lesson.homework_done))
            assert all(title in given for title in lesson.homework_done)  # done after it was given
            given += [lesson.homework] if lesson.homework else []
            assert len(lesson.events) <= len(NOTE_MINUTES)
        notes = [lesson.notes for lesson in lessons] + [text for lesson in lessons for _, _, text in lesson.events]
        assert len(notes) >= 12  # enough for a brief's 12 sources
        assert len({t for lesson in lessons for t, _, _ in lesson.events}) >= 3
    text = " ".join(
        n.lower()
        for lessons in LESSONS.values()
        for lesson in lessons
        for n in (lesson.notes, *(e[2] for e in lesson.events))
    )
    for topic in ("sound", "blend", "wpm", "retell", "new words", "proud", "missed"):
        assert topic in text


async def test_with_no_credentials_prep_answers_for_every_session_from_the_local_models(
    pool: asyncpg.Pool, temporal_env: WorkflowEnvironment
) -> None:
    """What `make run` does: local wordllama + local writer, a demo child's notes, past and future sessions."""
    family = await make_family(pool)
    lessons = LESSONS["Aarav Iyer"]
    notes: list[Note] = [("session_completed", {}, lesson.notes) for lesson in lessons] + [
        e for n in lessons for e in n.events
    ]
    for number, (event_type, data, text) in enumerate(notes):
        await pool.execute(
            "INSERT INTO learning_events (child_id, coach_id, event_type, event_date, event_data,"
            " content_for_embedding)"
            " VALUES ($1, $2, $3, now() - make_interval(days => $4), $5, $6)",
            family.child.id,
            family.coach.id,
            event_type,
            30 - number,
            data,
            text,
        )
    now = now_utc()
    starts = [now - timedelta(days=7), now - timedelta(days=2), now + timedelta(hours=1), now + timedelta(days=5)]
    sessions = await make_sessions(pool, family, starts, statuses=["completed", "scheduled", "scheduled", "scheduled"])
    async with running_worker(temporal_env.client, pool) as tq, api_client(pool, temporal_env.client, tq) as http:
        with temporal_env.auto_time_skipping_disabled():
            for session_id in sessions:
                answer = await http.get(
                    "/api/coach/session-prep", params={"sessionId": str(session_id)}, headers=auth(family.coach.id)
                )
                assert answer.status_code == 200, answer.text
                brief = answer.json()
                assert brief["model"] == "local" and len(brief["sources"]) == 12
                cited = {
                    i
                    for key in ("challenges", "motivators", "recommended_activities")
                    for x in brief[key]
                    for i in x["event_ids"]
                }
                assert cited <= {s["id"] for s in brief["sources"]} and brief["session_focus"]["event_ids"]
                assert 1 <= len(brief["challenges"]) <= 5 and 1 <= len(brief["motivators"]) <= 5
