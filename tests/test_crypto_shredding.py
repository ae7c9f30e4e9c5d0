"""Crypto-shredding (coach_sessions/data_key_codec.py, migration 0015): a child's workflow payloads are
sealed with the child's own data key, and erasing the child shreds it, so the child's histories stop
decoding while everyone else's still do."""

import asyncio
from uuid import UUID

import asyncpg
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext

from coach_sessions.data_key_codec import DataKeyCodec
from coach_sessions.payload_codec import ENCODING, Keyring, PayloadDecryptionError, key_id_of, new_key
from coach_sessions.repositories.data_keys import DataKeyRepository
from coach_sessions.temporal import (
    child_erasure_workflow_id,
    consent_workflow_id,
    converter_for,
    embed_events_workflow_id,
    enrollment_workflow_id,
    message_delivery_workflow_id,
    session_brief_workflow_id,
    session_workflow_id,
    workflow_subject,
)
from tests.factories import make_family
from tests.helpers import ADMIN, TEST_PAYLOAD_KEYS, Stack
from tests.test_erasure import _erase, _planted_family
from tests.test_payload_codec import PLAIN, _payloads, _unwire, _wire


def _fresh_codec(database_url: str, keys: str = TEST_PAYLOAD_KEYS) -> DataKeyCodec:
    """A codec with nothing cached: what another process, or a restored backup's reader, would use."""
    codec = converter_for(Keyring.parse(keys), DataKeyRepository(database_url)).payload_codec
    assert isinstance(codec, DataKeyCodec)
    return codec


def _for(codec: DataKeyCodec, workflow_id: str) -> DataKeyCodec:
    """The codec as the SDK hands it a workflow's payloads."""
    return codec.with_context(WorkflowSerializationContext(namespace="default", workflow_id=workflow_id))


async def _encrypted_payloads(stack: Stack, pool: asyncpg.Pool, child_id: UUID) -> list[Payload]:
    """Every encrypted payload in the histories of the child's session and enrollment workflows."""
    sessions = await pool.fetch("SELECT id FROM scheduled_sessions WHERE child_id = $1", child_id)
    enrollments = await pool.fetch("SELECT id FROM enrollments WHERE child_id = $1", child_id)
    ids = [session_workflow_id(r["id"]) for r in sessions] + [enrollment_workflow_id(r["id"]) for r in enrollments]
    found = []
    for workflow_id in ids:
        history = await stack.env.client.get_workflow_handle(workflow_id).fetch_history()
        found += [p for e in history.events for p in _payloads(e) if p.metadata.get("encoding") == ENCODING]
    return found


async def _decoded_texts(codec: DataKeyCodec, payloads: list[Payload]) -> tuple[list[bytes], int]:
    """The plaintext of each payload that still decodes, and how many refused."""
    texts, refused = [], 0
    for payload in payloads:
        try:
            [plain] = await codec.decode([payload])
        except PayloadDecryptionError as error:
            assert "shredded" in str(error), error
            refused += 1
        else:
            texts.append(plain.SerializeToString())
    return texts, refused


async def test_an_erased_childs_histories_stop_decoding_and_another_childs_do_not(
    stack: Stack, pool: asyncpg.Pool, database_url: str
) -> None:
    family, planted, _ = await _planted_family(stack, pool)
    other, others_planted, _ = await _planted_family(stack, pool)
    key_id = await pool.fetchval("SELECT key_id FROM child_data_keys WHERE child_id = $1", family.child.id)
    payloads = await _encrypted_payloads(stack, pool, family.child.id)
    by_key = {key_id_of(p) for p in payloads}
    assert key_id in by_key and by_key <= {key_id, "test-k1"}, by_key  # no other child's key in its histories

    # Before: everything decodes, the planted note is in the child's payloads, and none of the planted
    # strings is in a payload sealed with the master key (which erasure cannot take back).
    texts, refused = await _decoded_texts(_fresh_codec(database_url), payloads)
    assert refused == 0 and any(planted["notes"].encode() in t for t in texts)
    master_sealed = [p for p in payloads if key_id_of(p) == "test-k1"]
    master_texts, _ = await _decoded_texts(_fresh_codec(database_url), master_sealed)
    assert not [v for v in planted.values() if any(v.encode() in t for t in master_texts)]

    await _erase(stack, family.child.id)

    row = await pool.fetchrow("SELECT * FROM child_data_keys WHERE child_id = $1", family.child.id)
    assert row["key_id"] == key_id and row["wrapped_key"] is None and row["shredded_at"] is not None
    texts, refused = await _decoded_texts(_fresh_codec(database_url), payloads)
    assert refused == sum(1 for p in payloads if key_id_of(p) == key_id) > 0
    assert not [v for v in planted.values() if any(v.encode() in t for t in texts)]
    # The codec server (the Temporal UI's way in) says so, as a 422 that quotes no payload.
    childs = next(p for p in payloads if key_id_of(p) == key_id)
    answer = await stack.http.post("/codec/decode", headers=ADMIN, json=_wire([childs]))
    assert answer.status_code == 422 and "shredded" in answer.text, answer.text

    others = await _encrypted_payloads(stack, pool, other.child.id)
    texts, refused = await _decoded_texts(_fresh_codec(database_url), others)
    assert refused == 0 and any(others_planted["notes"].encode() in t for t in texts)
    # No key is made again for the erased child: what a late call still carries (scrubbed already) is
    # sealed with the master key, as the erasure's own workflow's payloads are.
    late = await _for(_fresh_codec(database_url), embed_events_workflow_id(family.child.id)).encode(PLAIN)
    assert {key_id_of(p) for p in late} == {"test-k1"}
    assert await pool.fetchval("SELECT count(*) FROM child_data_keys WHERE child_id = $1", family.child.id) == 1
    erasure = _for(_fresh_codec(database_url), child_erasure_workflow_id(family.child.id))
    assert {key_id_of(p) for p in await erasure.encode(PLAIN)} == {"test-k1"}


async def test_one_key_per_child_made_once_under_concurrency(pool: asyncpg.Pool, database_url: str) -> None:
    family = await make_family(pool)
    codecs = [_fresh_codec(database_url) for _ in range(10)]  # ten processes' first payload at once
    sealed = await asyncio.gather(*(_for(c, embed_events_workflow_id(family.child.id)).encode(PLAIN) for c in codecs))
    assert len({key_id_of(p) for batch in sealed for p in batch}) == 1
    assert await pool.fetchval("SELECT count(*) FROM child_data_keys WHERE child_id = $1", family.child.id) == 1
    for batch in sealed:
        assert await codecs[0].decode(batch) == PLAIN


async def test_a_master_key_rotation_keeps_data_keys_and_a_removed_master_refuses_clearly(
    pool: asyncpg.Pool, database_url: str
) -> None:
    family, newer = await make_family(pool), await make_family(pool)
    old_master = TEST_PAYLOAD_KEYS
    sealed = await _for(_fresh_codec(database_url, old_master), embed_events_workflow_id(family.child.id)).encode(PLAIN)
    rotated = f"k2:{new_key()},{old_master}"
    assert await _fresh_codec(database_url, rotated).decode(sealed) == PLAIN  # old wrapping key still held
    # A child's key made after the rotation is wrapped by the new master key.
    await _for(_fresh_codec(database_url, rotated), embed_events_workflow_id(newer.child.id)).encode(PLAIN)
    wrapping = await pool.fetchval("SELECT wrapping_key_id FROM child_data_keys WHERE child_id = $1", newer.child.id)
    assert wrapping == "k2"
    with pytest.raises(PayloadDecryptionError, match=r"wrapped by master key 'test-k1'.*does not hold"):
        await _fresh_codec(database_url, rotated.split(",")[0]).decode(sealed)


@pytest.mark.parametrize(
    ("workflow_id", "kind"),
    [
        (session_workflow_id(UUID(int=1)), "session"),
        (session_brief_workflow_id(UUID(int=1)), "session"),
        (consent_workflow_id(UUID(int=1), 3), "session"),
        (enrollment_workflow_id(UUID(int=1)), "enrollment"),
        (message_delivery_workflow_id(UUID(int=1)), "message"),
        (embed_events_workflow_id(UUID(int=1)), "child"),
        (child_erasure_workflow_id(UUID(int=1)), None),
        ("retention-purge", None),
        ("session-not-a-uuid", None),
        (session_workflow_id(UUID(int=1)) + "-x", None),
    ],
)
def test_which_workflows_are_one_childs(workflow_id: str, kind: str | None) -> None:
    subject = workflow_subject(workflow_id)
    assert (subject[0] if subject else None) == kind
    if subject:
        assert subject[1] == UUID(int=1)


async def test_payloads_with_no_child_use_the_master_key(pool: asyncpg.Pool, database_url: str) -> None:
    codec = _fresh_codec(database_url)
    for workflow_id in (None, child_erasure_workflow_id(UUID(int=2)), session_workflow_id(UUID(int=2))):
        sealed = await (_for(codec, workflow_id) if workflow_id else codec).encode(PLAIN)
        assert {key_id_of(p) for p in sealed} == {"test-k1"}, workflow_id  # the last: no such session yet
    assert await codec.decode(_unwire(_wire(await codec.encode(PLAIN)))) == PLAIN
