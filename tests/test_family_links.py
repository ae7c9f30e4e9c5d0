"""A family link: a parent's own way to their children's record (export) and its erasure, attacked."""

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest

from coach_sessions import family_links
from coach_sessions.settings import Settings
from coach_sessions.temporal import child_erasure_workflow_id
from tests.factories import Family, hours, make_family, make_sessions, now_utc
from tests.helpers import ADMIN, TEST_SECRET, Stack, auth

SECRET = b"s" * 32
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


async def _link(stack: Stack, parent_id: UUID, action: str = "family-link") -> str:
    answer = await stack.http.post(f"/api/parents/{parent_id}/{action}", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert datetime.fromisoformat(answer.json()["expires_at"]) > now_utc() + timedelta(days=29)
    link: str = answer.json()["link"]
    return link


def _as(link: str) -> dict[str, str]:
    return {"X-Family-Link": link}


async def _family_with_record(stack: Stack, pool: asyncpg.Pool) -> Family:
    family = await make_family(pool)
    [done, _] = await make_sessions(
        pool, family, [now_utc() - hours(30), now_utc() + hours(50)], statuses=["pending"] * 2
    )
    body = {"sessionId": str(done), "notes": "PRIVATE-NOTE reversed b and d", "parentMessage": "Well read today!"}
    answer = await stack.http.post("/api/sessions/complete", headers=auth(family.coach.id), json=body)
    assert answer.status_code == 200, answer.text
    return family


def test_a_link_reads_back_and_every_alteration_is_refused() -> None:
    parent = uuid4()
    link, expires = family_links.mint(SECRET, parent, 3, now=NOW, ttl=timedelta(days=30))
    assert family_links.read(SECRET, link, now=NOW) == family_links.FamilyLink(parent, 3, expires)
    head, mac = link.rsplit(".", 1)
    other = uuid4().hex
    for altered in (
        f"{head}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}",  # the signature
        link.replace(parent.hex, other),  # another family
        link.replace(".3.", ".4.", 1),  # a newer version, self-made
        f"{head.rsplit('.', 1)[0]}.{int(expires.timestamp()) + 86400}.{mac}",  # a later expiry
        link + "=",
        link.upper(),
        "",
        "fl1....",
        link + "\x00",
        "x" * 10_000,
    ):
        assert family_links.read(SECRET, altered, now=NOW) is None, altered
    assert family_links.read(b"t" * 32, link, now=NOW) is None  # another secret
    assert family_links.read(SECRET, link, now=expires) is None  # expired at its expiry


def test_the_secret_is_derived_unless_set_and_a_short_one_is_refused() -> None:
    derived = Settings(app_env="test", auth_jwt_secret="a" * 40)
    assert derived.family_link_key() != b"a" * 40 and len(derived.family_link_key()) == 32
    assert (
        Settings(app_env="test", auth_jwt_secret="a" * 40, family_link_secret="f" * 32).family_link_key() == b"f" * 32
    )
    with pytest.raises(ValueError, match="FAMILY_LINK_SECRET"):
        Settings(app_env="test", family_link_secret="short")
    with pytest.raises(ValueError, match="FAMILY_LINK_TTL"):
        Settings(app_env="test", family_link_ttl=timedelta(days=365))


async def test_a_parent_lists_and_exports_only_their_own_and_never_the_private_notes(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await _family_with_record(stack, pool)
    other = await _family_with_record(stack, pool)
    link = await _link(stack, family.parent.id)

    listed = await stack.http.get("/api/family/children", headers=_as(link))
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["children"]] == [str(family.child.id)]

    exported = await stack.http.get(f"/api/family/children/{family.child.id}/export", headers=_as(link))
    assert exported.status_code == 200, exported.text
    body = exported.json()
    assert "PRIVATE-NOTE" not in exported.text and "Well read today!" in exported.text
    assert body["child"]["id"] == str(family.child.id) and len(body["sessions"]) == 2
    assert body["withheld"]["coach_notes"] == 1 and body["withheld"]["learning_events"] >= 1
    assert all(m["recipient_role"] == "parent" for m in body["messages_sent"])
    # The admin's export (a formal access request) holds the note.
    full = await stack.http.get(f"/api/children/{family.child.id}/export", headers=ADMIN)
    assert "PRIVATE-NOTE" in full.text

    # Another family's child answers exactly as a missing one.
    theirs = await stack.http.get(f"/api/family/children/{other.child.id}/export", headers=_as(link))
    missing = await stack.http.get(f"/api/family/children/{uuid4()}/export", headers=_as(link))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json() and str(other.child.id) not in theirs.text
    refused = await stack.http.delete(f"/api/family/children/{other.child.id}", headers=_as(link))
    assert refused.status_code == 404 and not await pool.fetchval(
        "SELECT count(*) FROM child_erasures WHERE child_id = $1", other.child.id
    )


async def test_bad_links_get_one_401_and_replacing_revokes_every_older_link(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    first = await _link(stack, family.parent.id)
    second = await _link(stack, family.parent.id)
    forged, _ = family_links.mint(b"x" * 32, family.parent.id, 1, now=now_utc(), ttl=timedelta(days=1))
    expired, _ = family_links.mint(
        Settings(app_env="test", auth_jwt_secret=TEST_SECRET).family_link_key(),
        family.parent.id,
        1,
        now=now_utc() - timedelta(days=31),
        ttl=timedelta(days=30),
    )
    bodies = []
    for bad in (forged, expired, first[:-1] + ("A" if first[-1] != "A" else "B"), "fl1.", "\u00e9" * 20, ""):
        answer = await stack.http.get("/api/family/children", headers={b"X-Family-Link": bad.encode()})
        assert answer.status_code == 401, (bad, answer.text)
        bodies.append(answer.json())
    no_header = await stack.http.get("/api/family/children")
    assert no_header.status_code == 401 and all(b == no_header.json() for b in bodies)
    # A coach's or admin's bearer token is not a family link, and a family link is not a bearer token.
    assert (await stack.http.get("/api/family/children", headers=ADMIN)).status_code == 401
    as_bearer = await stack.http.get("/api/coach/children", headers={"Authorization": f"Bearer {first}"})
    assert as_bearer.status_code == 401

    assert (await stack.http.get("/api/family/children", headers=_as(first))).status_code == 200
    third = await _link(stack, family.parent.id, "family-link/replace")
    for old in (first, second):
        assert (await stack.http.get("/api/family/children", headers=_as(old))).status_code == 401
    assert (await stack.http.get("/api/family/children", headers=_as(third))).status_code == 200
    # Only an admin issues or replaces links; an unknown parent is 404.
    coach = await stack.http.post(f"/api/parents/{family.parent.id}/family-link", headers=auth(family.coach.id))
    assert coach.status_code == 403
    assert (await stack.http.post(f"/api/parents/{uuid4()}/family-link/replace", headers=ADMIN)).status_code == 404


async def test_ten_concurrent_erasures_by_the_parent_make_one_and_the_erased_familys_link_stops(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await _family_with_record(stack, pool)
    link = await _link(stack, family.parent.id)
    answers = await asyncio.gather(
        *(stack.http.delete(f"/api/family/children/{family.child.id}", headers=_as(link)) for _ in range(10))
    )
    assert sorted(a.status_code for a in answers) == [200] * 9 + [202], [a.text for a in answers]
    assert {a.json()["requested_by"] for a in answers} == {str(family.parent.id)}
    await stack.env.client.get_workflow_handle(child_erasure_workflow_id(family.child.id)).result()
    assert await pool.fetchval("SELECT count(*) FROM child_erasures WHERE child_id = $1", family.child.id) == 1
    assert await pool.fetchval("SELECT name FROM children WHERE id = $1", family.child.id) == "Erased child"
    # The child was the family's last: the parent is erased too, and with them the family's links.
    again = await stack.http.delete(f"/api/family/children/{family.child.id}", headers=_as(link))
    assert again.status_code == 401, again.text
    done = await stack.http.delete(f"/api/children/{family.child.id}", headers=ADMIN)
    assert done.status_code == 200 and done.json()["status"] == "done"
