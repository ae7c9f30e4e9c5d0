"""Encrypted Temporal payloads (issue 22): the AES-256-GCM codec, its keyring and rotation, histories that
hold no plaintext, and the Temporal UI's codec endpoints (admins only, CORS for the UI's origin only)."""

import asyncio
import base64
import contextlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from subprocess import PIPE
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from google.protobuf.message import Message
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.worker import Replayer

from api.app import create_app
from api.middleware import CODEC_MAX_BODY_BYTES
from api.services import Services
from coach_sessions.payload_codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    Keyring,
    KeyringError,
    PayloadDecryptionError,
    encrypted_key_ids,
    new_key,
)
from coach_sessions.settings import Settings
from coach_sessions.statuses import Role
from coach_sessions.temporal import (
    consent_workflow_id,
    converter_for,
    data_converter,
    enrollment_workflow_id,
    session_workflow_id,
)
from devtools.devstack import temporal_command, wait_for_temporal
from devtools.embedded import venv_binary
from tests.factories import hours, make_family, make_sessions, now_utc
from tests.faults.procs import free_port
from tests.helpers import (
    ADMIN,
    ADMIN_ID,
    TEST_DATA_CONVERTER,
    TEST_MASTER_CONVERTER,
    TEST_PAYLOAD_KEYS,
    Stack,
    api_client,
    auth,
    eventually,
    fake_providers,
    quiescent,
    real_server,
    running_worker,
)
from tests.helpers import (
    test_settings as settings_for,
)
from tests.sign_in_support import page_client, sign_in
from tests.whatsapp_payloads import button_tap, cloud_envelope, post_signed
from worker import WORKFLOWS

KEY_1, KEY_2 = new_key(), new_key()
PLAIN = pydantic_data_converter.payload_converter.to_payloads(["Aarav struggles with blends", {"n": 1}])
UI = "http://127.0.0.1:8233"
LOCAL_ACTIVITY_MARKER_META = {
    *("seq", "attempt", "activity_id", "activity_type", "complete_time", "backoff", "original_schedule_time"),
    "activation_index",
    *("id", "deprecated"),  # a patch marker's: the patch id (workflows/patches.py)
}


def codec(spec: str) -> EncryptionCodec:
    return EncryptionCodec(Keyring.parse(spec))


# ----- the codec --------------------------------------------------------------------------------


async def test_round_trip_hides_the_plaintext_and_names_the_key() -> None:
    old = codec(f"k1:{KEY_1}")
    encrypted = await old.encode(PLAIN)
    for payload in encrypted:
        assert payload.metadata["encoding"] == ENCODING
        assert payload.metadata[KEY_ID_METADATA] == b"k1"
        assert b"Aarav" not in payload.SerializeToString()
    assert await old.decode(encrypted) == PLAIN
    again = await old.encode(PLAIN)
    assert again[0].data[:12] != encrypted[0].data[:12]  # a fresh nonce per payload


async def test_rotation_new_first_key_encrypts_old_keys_still_decrypt_removed_keys_refuse() -> None:
    before = await codec(f"k1:{KEY_1}").encode(PLAIN)
    rotated = codec(f"k2:{KEY_2},k1:{KEY_1}")
    after = await rotated.encode(PLAIN)
    assert encrypted_key_ids(after) == {"k2"} and encrypted_key_ids(before) == {"k1"}
    assert await rotated.decode(before) == PLAIN == await rotated.decode(after)

    retired = codec(f"k2:{KEY_2}")  # k1 removed: its payloads refuse, clearly
    assert await retired.decode(after) == PLAIN
    with pytest.raises(PayloadDecryptionError, match=r"key id 'k1'.*does not hold") as refused:
        await retired.decode(before)
    assert KEY_1 not in str(refused.value) and KEY_2 not in str(refused.value)


@pytest.mark.parametrize("tamper", ["flip a ciphertext byte", "flip a nonce byte", "truncate", "relabel the key"])
async def test_a_tampered_payload_fails_authentication_without_quoting_anything(tamper: str) -> None:
    both = codec(f"k1:{KEY_1},k2:{KEY_2}")
    [payload] = await both.encode(PLAIN[:1])
    data = bytearray(payload.data)
    if tamper == "flip a ciphertext byte":
        data[-1] ^= 1
    elif tamper == "flip a nonce byte":
        data[0] ^= 1
    elif tamper == "truncate":
        data = data[:20]
    payload.data = bytes(data)
    if tamper == "relabel the key":  # the key id is authenticated data: k2 cannot open what k1 sealed
        payload.metadata[KEY_ID_METADATA] = b"k2"
    with pytest.raises(PayloadDecryptionError, match="altered") as refused:
        await both.decode([payload])
    assert "Aarav" not in str(refused.value) and KEY_1 not in str(refused.value)


async def test_plaintext_payloads_pass_through_decode() -> None:
    """Histories from before encryption (tests/histories/*.json) decode to what they hold."""
    assert await codec(f"k1:{KEY_1}").decode(PLAIN) == PLAIN


def test_the_keyring_is_validated_and_names_no_key() -> None:
    short = base64.b64encode(b"x" * 16).decode()
    for spec, reason in [
        (f"k1:{short}", "16 bytes"),
        (f"k1:{KEY_1},k1:{KEY_2}", "twice"),
        ("k1:not*base64", "not base64"),
        (KEY_1, "<key id>:<base64 key>"),
        (f"bad id:{KEY_1}", "key id"),
    ]:
        with pytest.raises(KeyringError, match=reason) as refused:
            Keyring.parse(spec)
        assert KEY_1 not in str(refused.value) and short not in str(refused.value)
    assert Keyring.parse(f" k2:{KEY_2} , k1:{KEY_1.rstrip('=')} ").ids == ("k2", "k1")  # padding optional


def test_settings_require_keys_in_production_and_never_print_them() -> None:
    production: dict[str, Any] = {"app_env": "production", "auth_jwt_secret": "s" * 40}
    with pytest.raises(ValidationError, match="PAYLOAD_ENCRYPTION_KEYS must be set in production"):
        Settings(**production, payload_encryption_keys="")
    with pytest.raises(ValidationError) as refused:
        Settings(**production, payload_encryption_keys=f"k1:{KEY_1},k1:{KEY_2}")
    assert KEY_1 not in str(refused.value) and "s" * 40 not in str(refused.value)
    settings = Settings(**production, payload_encryption_keys=f"k2:{KEY_2},k1:{KEY_1}")
    assert data_converter(settings).payload_codec is not None
    assert data_converter(Settings(app_env="development", payload_encryption_keys="")).payload_codec is None
    with pytest.raises(ValidationError, match="TEMPORAL_UI_ORIGIN"):
        Settings(**production, payload_encryption_keys=f"k1:{KEY_1}", temporal_ui_origin="http://ui:8080/")


# ----- histories --------------------------------------------------------------------------------


def _payloads(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere inside a protobuf message (a history event's inputs, results, state)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            values = list(value.values())
        elif isinstance(value, Message):
            values = [value]
        else:
            values = list(value)  # a repeated field
        for item in values:
            if isinstance(item, Message):
                yield from _payloads(item)


async def test_a_session_history_holds_no_planted_plaintext_while_the_api_reads_it(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(2)], statuses=["pending"])
    note = "PLANTED-NOTE Aarav reversed b and d twice"
    answer = await stack.http.post(
        "/api/sessions/complete", headers=auth(family.coach.id), json={"sessionId": str(session_id), "notes": note}
    )
    assert answer.status_code == 200, answer.text
    read = await stack.http.get(f"/api/sessions/{session_id}", headers=auth(family.coach.id))
    assert read.status_code == 200 and read.json()["session"]["coach_notes"] == note  # the API reads it fine

    # The raw history as Temporal's server holds it, read by a client that has no codec.
    plain_client = Client(stack.env.client.service_client, namespace=stack.env.client.namespace)
    history = await plain_client.get_workflow_handle(session_workflow_id(session_id)).fetch_history()
    raw = history.to_json() + "".join(event.SerializeToString().hex() for event in history.events)
    payloads = [p for event in history.events for p in _payloads(event)]
    # Every payload encrypted but the search attributes' (ids and statuses, typed: metadata "type") and
    # the SDK's own marker metadata (local activities' sequence numbers, ids and times; patch ids).
    plain = [p for p in payloads if p.metadata["encoding"] != ENCODING and "type" not in p.metadata]
    assert payloads and all(set(json.loads(p.data)) <= LOCAL_ACTIVITY_MARKER_META for p in plain), [
        sorted(json.loads(p.data)) for p in plain
    ]
    # Sealed with the child's data key (crypto-shredding), what has no child with the master key.
    child_key = await pool.fetchval("SELECT key_id FROM child_data_keys WHERE child_id = $1", family.child.id)
    assert child_key in encrypted_key_ids(payloads) <= {"test-k1", child_key}
    for planted in ("PLANTED-NOTE", family.child.name, family.parent.phone):
        assert planted not in raw and planted.encode().hex() not in raw, planted

    # ... and that is the codec's doing: decoded, the same history does hold the note.
    decoded = await TEST_DATA_CONVERTER.payload_codec.decode(payloads)  # type: ignore[union-attr]
    assert any(b"PLANTED-NOTE" in p.data for p in decoded)
    replayed = await Replayer(workflows=WORKFLOWS, data_converter=TEST_DATA_CONVERTER).replay_workflow(
        WorkflowHistory.from_json(history.workflow_id, json.loads(history.to_json())), raise_on_replay_failure=False
    )
    assert replayed.replay_failure is None, replayed.replay_failure


def test_the_saved_plaintext_histories_replay_through_the_codec() -> None:
    """tests/test_replay.py replays every saved history with TEST_MASTER_CONVERTER (the codec on top,
    the master key only: saved histories need no database)."""
    assert isinstance(TEST_MASTER_CONVERTER.payload_codec, EncryptionCodec)
    saved = (Path(__file__).parent / "test_replay.py").read_text()
    assert "Replayer(workflows=WORKFLOWS, data_converter=TEST_MASTER_CONVERTER)" in saved


async def test_a_history_without_its_key_does_not_replay() -> None:
    """A key removed too early: the history refuses to decode (not silently replayed with garbage)."""
    path = sorted((Path(__file__).parent / "histories").glob("*.session.json"))[0]
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    other = converter_for(Keyring.parse(f"other:{KEY_1}"))
    for event in history.events:  # re-encrypt the saved history with k1, then replay without k1
        for payload in _payloads(event):
            if payload.metadata.get("encoding") != ENCODING:
                payload.CopyFrom((await codec(f"k1:{KEY_1}").encode([payload]))[0])
    result = await Replayer(workflows=WORKFLOWS, data_converter=other).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is not None


# ----- the codec endpoints ----------------------------------------------------------------------


def _wire(payloads: list[Payload]) -> dict[str, Any]:
    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    return {
        "payloads": [{"metadata": {k: b64(v) for k, v in p.metadata.items()}, "data": b64(p.data)} for p in payloads]
    }


def _unwire(body: dict[str, Any]) -> list[Payload]:
    return [
        Payload(metadata={k: base64.b64decode(v) for k, v in p["metadata"].items()}, data=base64.b64decode(p["data"]))
        for p in body["payloads"]
    ]


async def _encrypted() -> list[Payload]:
    return await TEST_DATA_CONVERTER.payload_codec.encode(PLAIN)  # type: ignore[union-attr]


async def test_an_admin_decodes_and_encodes_with_a_bearer_token(stack: Stack) -> None:
    encrypted = await _encrypted()
    answer = await stack.http.post("/codec/decode", headers=ADMIN, json=_wire([*encrypted, PLAIN[0]]))
    assert answer.status_code == 200, answer.text
    assert _unwire(answer.json()) == [*PLAIN, PLAIN[0]]  # plaintext passes through
    sealed = await stack.http.post("/codec/encode", headers=ADMIN, json=_wire(PLAIN))
    assert sealed.status_code == 200, sealed.text
    assert encrypted_key_ids(_unwire(sealed.json())) == {"test-k1"}
    assert await TEST_DATA_CONVERTER.payload_codec.decode(_unwire(sealed.json())) == PLAIN  # type: ignore[union-attr]
    assert (await stack.http.post("/codec/decode", headers=ADMIN, json={"payloads": []})).json() == {"payloads": []}
    assert "access-control-allow-origin" not in answer.headers  # no Origin, no CORS


async def test_a_coach_is_forbidden_and_no_credentials_is_unauthorized(stack: Stack, pool: asyncpg.Pool) -> None:
    family = await make_family(pool)
    body = _wire(await _encrypted())
    coach = await stack.http.post("/codec/decode", headers=auth(family.coach.id), json=body)
    assert (coach.status_code, coach.json()["error"]) == (403, "forbidden")
    assert "Aarav" not in coach.text
    nobody = await stack.http.post("/codec/decode", json=body)
    assert (nobody.status_code, nobody.json()["error"]) == (401, "unauthorized")


async def test_cors_preflight_is_allowed_for_the_temporal_ui_origin_only(stack: Stack, pool: asyncpg.Pool) -> None:
    async with api_client(pool, stack.env.client, stack.task_queue, temporal_ui_origin=UI) as http:
        ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
        allowed = await http.options("/codec/decode", headers={"Origin": UI, **ask})
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == UI
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert "x-namespace" in allowed.headers["access-control-allow-headers"].lower()
        for other in ("https://evil.example", "http://127.0.0.1:8234", "null"):
            refused = await http.options("/codec/decode", headers={"Origin": other, **ask})
            assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers, other
        # Other routes never answer CORS, even to the UI's origin.
        api = await http.options("/api/sessions/complete", headers={"Origin": UI, **ask})
        assert "access-control-allow-origin" not in api.headers

        answer = await http.post("/codec/decode", headers={**ADMIN, "Origin": UI}, json=_wire(await _encrypted()))
        assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == UI
        assert "Origin" in answer.headers["vary"]
        elsewhere = await http.post("/codec/decode", headers={**ADMIN, "Origin": "https://evil.example"}, json={})
        assert "access-control-allow-origin" not in elsewhere.headers  # the browser there reads nothing
    # Unconfigured: no origin is allowed.
    refused = await stack.http.options("/codec/decode", headers={"Origin": UI, **ask})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


async def test_an_admin_page_session_decodes_from_the_ui_origin_only(stack: Stack, pool: asyncpg.Pool) -> None:
    async with api_client(pool, stack.env.client, stack.task_queue, temporal_ui_origin=UI) as http:
        async with page_client(http) as client:
            await sign_in(client, ADMIN_ID, Role.ADMIN)
            client.headers.pop("X-CSRF-Token")  # the UI cannot know it
            body = _wire(await _encrypted())
            for origin in ("https://evil.example", "https://test", None):
                headers = {"Origin": origin} if origin else {}
                if origin is None:
                    client.headers.pop("Origin")
                refused = await client.post("/codec/decode", headers=headers, json=body)
                assert (refused.status_code, refused.json()["error"]) == (403, "csrf_failed"), origin
            answer = await client.post("/codec/decode", headers={"Origin": UI}, json=body)
            assert answer.status_code == 200, answer.text
            assert _unwire(answer.json()) == PLAIN


async def test_hostile_codec_bodies_answer_4xx(stack: Stack) -> None:
    [sealed] = await TEST_DATA_CONVERTER.payload_codec.encode(PLAIN[:1])  # type: ignore[union-attr]
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    unknown = Payload()
    unknown.CopyFrom(sealed)
    unknown.metadata[KEY_ID_METADATA] = b"retired"
    cases: list[tuple[Any, int, str]] = [
        ({"payloads": [{"metadata": {}, "data": "not base64!"}]}, 422, "validation_error"),
        ({"payloads": [{"metadata": {"encoding": "%%%"}, "data": ""}]}, 422, "validation_error"),
        ({"payloads": [{"metadata": {"enc\u0000oding": "YQ=="}, "data": ""}]}, 422, "validation_error"),
        ({"payloads": [{"metadata": {}, "data": "YQ=\u0000"}]}, 422, "validation_error"),
        ({"payloads": [{"metadata": {}, "data": "Y"}]}, 422, "validation_error"),  # a lone base64 character
        ({"payloads": "all of them"}, 422, "validation_error"),
        ({"payloads": [{"data": "YQ==", "external": 1}]}, 422, "validation_error"),
        (_wire([tampered]), 422, "validation_error"),
        (_wire([unknown]), 422, "validation_error"),
    ]
    for body, status, code in cases:
        answer = await stack.http.post("/codec/decode", headers=ADMIN, json=body)
        assert (answer.status_code, answer.json()["error"]) == (status, code), (body, answer.text)
        assert "Aarav" not in answer.text
    assert "payloads.0" in answer.text and "'retired'" in answer.text  # names the payload and the key id
    as_json = {**ADMIN, "Content-Type": "application/json"}
    not_json = await stack.http.post("/codec/decode", headers=as_json, content=b"{")
    assert (not_json.status_code, not_json.json()["error"]) == (422, "validation_error")  # as on every route
    not_utf8 = await stack.http.post("/codec/decode", headers=as_json, content=b'{"payloads": "\xff"}')
    assert (not_utf8.status_code, not_utf8.json()["error"]) == (400, "malformed_payload")
    big = b'{"payloads": [{"data": "' + b"A" * CODEC_MAX_BODY_BYTES + b'"}]}'
    too_big = await stack.http.post("/codec/decode", headers=as_json, content=big)
    assert (too_big.status_code, too_big.json()["error"]) == (413, "payload_too_large")
    # A batch bigger than the other routes' 64 KiB cap is the codec's ordinary work.
    large = pydantic_data_converter.payload_converter.to_payloads(["n" * 200_000])
    batch = await stack.http.post("/codec/decode", headers=ADMIN, json=_wire(await _encrypted() + large))
    assert batch.status_code == 200, batch.text


def test_the_test_key_is_the_suites_environment() -> None:
    import os

    assert os.environ["PAYLOAD_ENCRYPTION_KEYS"] == TEST_PAYLOAD_KEYS  # the processes tests start share it


# ----- operators' tools and a real dev server ----------------------------------------------------


def _decoded_strings(shown: Any) -> str:
    """``temporal workflow show -o json``: every string, and every base64 ``data`` decoded."""
    found: list[str] = []
    stack: list[Any] = [shown]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            found.append(value)
            with contextlib.suppress(ValueError):
                found.append(base64.b64decode(value, validate=True).decode("utf-8", "replace"))
    return "\n".join(found)


async def test_an_operator_reads_a_decoded_history_with_the_temporal_cli(stack: Stack, pool: asyncpg.Pool) -> None:
    """``temporal workflow show --codec-endpoint <api>/codec --codec-auth 'Bearer <admin>'`` (docs/operations.md).
    (With a coach's token the CLI retries the 403 until its deadline and fails: not waited for here.)"""
    family = await make_family(pool)
    [session_id] = await make_sessions(pool, family, [now_utc() - hours(2)], statuses=["pending"])
    note = "PLANTED-CLI-NOTE sounded out every word"
    answer = await stack.http.post(
        "/api/sessions/complete", headers=auth(family.coach.id), json={"sessionId": str(session_id), "notes": note}
    )
    assert answer.status_code == 200, answer.text
    settings = settings_for(stack.task_queue)
    app = create_app(settings, services=Services.build(pool, stack.env.client, settings))
    address = stack.env.client.service_client.config.target_host
    show = [str(venv_binary("temporal")), "workflow", "show", "-w", session_workflow_id(session_id)]
    show += ["--address", address, "-o", "json"]

    async def run(*extra: str) -> str:
        proc = await asyncio.create_subprocess_exec(*show, *extra, stdout=PIPE, stderr=PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        return _decoded_strings(json.loads(out))

    async with real_server(app) as url:
        assert "PLANTED-CLI-NOTE" not in await run()
        assert "PLANTED-CLI-NOTE" in await run(
            "--codec-endpoint", f"{url}/codec", "--codec-auth", ADMIN["Authorization"]
        )


async def _started(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError:
        return False
    return True


async def _not_pending(pool: asyncpg.Pool, query: str, session_id: UUID) -> bool:
    return await pool.fetchval(query, session_id) not in (None, "pending")


async def test_a_real_dev_server_stores_no_planted_string(
    pool: asyncpg.Pool, tmp_path: Path, fake_google_calendar: Any, fake_aisensy: Any
) -> None:
    """The issue's scenario on a real dev server: an enrolment through the API, a completion with notes,
    a cancellation request with a reason and the parent's tap on it. Then the dev server's SQLite file
    (and its WAL) holds none of the planted strings, while the workflow ids are there to be found."""
    db_file = tmp_path / "temporal.db"
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        *temporal_command(db_file, port=port), stdout=asyncio.subprocess.DEVNULL, stderr=PIPE
    )
    try:
        await asyncio.to_thread(wait_for_temporal, f"127.0.0.1:{port}", "default", 30)
        client = await Client.connect(f"127.0.0.1:{port}", data_converter=TEST_DATA_CONVERTER)
        family, enrolled = await make_family(pool), await make_family(pool)
        done, later = await make_sessions(
            pool, family, [now_utc() - hours(2), now_utc() + hours(72)], statuses=["pending", "scheduled"]
        )
        note, reason = "PLANTED-SQLITE-NOTE mixed up was and saw", "PLANTED-SQLITE-REASON grandmother in hospital"
        async with fake_providers(fake_google_calendar, fake_aisensy) as (google, whatsapp):
            async with running_worker(client, pool, calendar=google, whatsapp=whatsapp) as tq:
                async with api_client(pool, client, tq) as http:
                    enrolment = {
                        "childId": str(enrolled.child.id),
                        "coachId": str(enrolled.coach.id),
                        "startDate": (now_utc() + timedelta(days=1)).date().isoformat(),
                        "sessionTime": "17:00",
                        "weekdays": ["mon", "wed", "fri"],
                        "sessionCount": 3,
                    }
                    answer = await http.post("/api/enrollments", headers=ADMIN, json=enrolment)
                    assert answer.status_code == 201, answer.text
                    enrollment_id = enrollment_workflow_id(answer.json()["enrollment"]["id"])
                    await asyncio.wait_for(client.get_workflow_handle(enrollment_id).result(), 30)
                    coach = auth(family.coach.id)
                    answer = await http.post(
                        "/api/sessions/complete", headers=coach, json={"sessionId": str(done), "notes": note}
                    )
                    assert answer.status_code == 200, answer.text
                    answer = await http.post(
                        "/api/sessions/request-cancel", headers=coach, json={"sessionId": str(later), "reason": reason}
                    )
                    assert answer.status_code == 202, answer.text
                    await eventually(lambda: _started(client, consent_workflow_id(later, 1)))
                    tap = cloud_envelope(button_tap(family.parent.phone, "Reschedule", context_id=None))
                    answer = await post_signed(http, tap)
                    assert answer.status_code == 200, answer.text
                    decided = "SELECT cancellation_status FROM scheduled_sessions WHERE id = $1"
                    await eventually(lambda: _not_pending(pool, decided, later))
                    await eventually(lambda: quiescent(client, session_workflow_id(done), session_workflow_id(later)))
    finally:
        server.terminate()
        await server.wait()
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("temporal.db*"))  # noqa: ASYNC240 - the test's end
    for workflow_id in (session_workflow_id(done), enrollment_id, consent_workflow_id(later, 1)):
        assert workflow_id.encode() in stored, workflow_id  # the file is readable as it is: the scan means something
    people = [family.child.name, family.parent.phone, family.coach.name, enrolled.child.name, enrolled.parent.phone]
    for planted in ("PLANTED-SQLITE", *people, family.parent.phone.lstrip("+")):
        assert planted.encode() not in stored, planted
        assert planted.encode("utf-16-le") not in stored, planted
