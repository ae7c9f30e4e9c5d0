"""Crypto-shredding: each child's Temporal payloads are encrypted with that child's own data key (issue 22).

The SDK tells a codec which workflow a payload belongs to (``with_context``: a workflow's input, state,
updates, queries and results, its activities' arguments and results, its children's start). When that
workflow is one of a child's (the ids of coach_sessions/temporal.py that name a session, an enrollment,
a message or the child), the payload is sealed with the child's data key, created on first use and kept
in Postgres wrapped by the current master key (migration 0015). Erasing the child shreds the key: every
payload sealed with it, in Temporal's database and in every backup of it, stops decrypting.

Everything else (no context, the erasure's own workflow, the retention workflow, a subject whose row is
not written yet) is sealed with the master key, as before. Decoding goes by the key id in the payload:
``dk-…`` loads that data key, anything else is the master keyring's; so histories written before this
codec, the saved test histories and the replayer need no database.

A process keeps a key it used in memory for ``DATA_KEY_CACHE_SECONDS``: after an erasure a worker or API
process may decrypt that child's payloads until then (the codec server for the Temporal UI looks every
key up afresh, so it refuses at once), and while PostgreSQL is unreachable a key a process already had
is used past its time rather than failing every workflow task; a key it has not seen is read again for
a few seconds before the task fails (Temporal then retries the task, and queries answer "not ready").
"""

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Self, TypeVar
from uuid import UUID

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext

from coach_sessions.payload_codec import (
    DATA_KEY_PREFIX,
    ENCODING,
    KEY_BYTES,
    NONCE_BYTES,
    EncryptionCodec,
    PayloadDecryptionError,
    key_id_of,
    seal,
    unseal,
)
from coach_sessions.repositories.data_keys import DataKeyRepository, StoredDataKey

DATA_KEY_CACHE_SECONDS = 60.0
_UNREACHABLE = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, TimeoutError)
_UNREACHABLE_RETRIES = (0.25, 0.5, 1.0, 2.0)  # then the error: ~4 s, within a workflow task's 10 s
_T = TypeVar("_T")

# A workflow id → what its uuid names ("session", "enrollment", "message", "child"), or None when the
# workflow is not one child's (coach_sessions.temporal.workflow_subject).
SubjectOf = Callable[[str], tuple[str, UUID] | None]


async def _soon(read: Callable[[], Awaitable[_T]]) -> _T:
    """A key read, tried again briefly while PostgreSQL is unreachable (a restart takes seconds): a
    workflow task whose key this process has not seen yet then waits rather than failing at once."""
    for delay in _UNREACHABLE_RETRIES:
        try:
            return await read()
        except _UNREACHABLE:
            await asyncio.sleep(delay)
    return await read()


class DataKeys:
    """The children's data keys of one process: created, unwrapped and cached here."""

    def __init__(self, master: EncryptionCodec, repository: DataKeyRepository, subject_of: SubjectOf) -> None:
        self.master = master
        self.repository = repository
        self.subject_of = subject_of
        self._children: dict[str, UUID] = {}  # a workflow's child never changes
        self._by_child: dict[UUID, tuple[float, str, AESGCM]] = {}
        self._by_id: dict[str, tuple[float, AESGCM]] = {}

    def uncached(self) -> "DataKeys":
        """The same keys with nothing remembered (the codec server: an erased key refuses at once)."""
        return DataKeys(self.master, self.repository, self.subject_of)

    async def for_workflow(self, workflow_id: str) -> tuple[str, AESGCM] | None:
        """The data key for this workflow's payloads, or None: not a child's (or an erased child's),
        seal with the master key."""
        child_id = await self._child_of(workflow_id)
        if child_id is None:
            return None
        cached = self._by_child.get(child_id)
        if cached and cached[0] > time.monotonic():
            return cached[1], cached[2]
        try:
            stored = await _soon(lambda: self.repository.for_child(child_id)) or await self._create(child_id)
        except _UNREACHABLE:
            if cached:
                return cached[1], cached[2]
            raise
        if stored.shredded_at is not None:
            # Erased: the child's rows were scrubbed before the key went, so what a late call still
            # carries (a brief of scrubbed events, an ended workflow's last words) is sealed with the
            # master key rather than failing the caller.
            self._by_child.pop(child_id, None)
            return None
        cipher = self._unwrap(stored)
        self._by_child[child_id] = (time.monotonic() + DATA_KEY_CACHE_SECONDS, stored.key_id, cipher)
        return stored.key_id, cipher

    async def by_id(self, key_id: str) -> AESGCM:
        cached = self._by_id.get(key_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            stored = await _soon(lambda: self.repository.by_id(key_id))
        except _UNREACHABLE:
            if cached:
                return cached[1]
            raise
        if stored is None:
            raise PayloadDecryptionError(f"payload encrypted with data key {key_id!r}, which is not stored here")
        if stored.shredded_at is not None:
            self._by_id.pop(key_id, None)
            raise PayloadDecryptionError(f"data key {key_id!r} was shredded: its child was erased")
        cipher = self._unwrap(stored)
        self._by_id[key_id] = (time.monotonic() + DATA_KEY_CACHE_SECONDS, cipher)
        return cipher

    async def _child_of(self, workflow_id: str) -> UUID | None:
        if workflow_id in self._children:
            return self._children[workflow_id]
        subject = self.subject_of(workflow_id)
        if subject is None:
            return None
        child_id = await self.repository.child_of(*subject)
        if child_id is not None:  # not yet written: master key now, look again next time
            if len(self._children) > 100_000:
                self._children.clear()
            self._children[workflow_id] = child_id
        return child_id

    async def _create(self, child_id: UUID) -> StoredDataKey:
        key_id = f"{DATA_KEY_PREFIX}{uuid.uuid4()}"
        wrapping_id = self.master.keyring.current_id
        wrapping = self.master.cipher(wrapping_id)
        assert wrapping is not None
        nonce = os.urandom(NONCE_BYTES)
        wrapped = nonce + wrapping.encrypt(nonce, os.urandom(KEY_BYTES), key_id.encode())
        return await self.repository.create(key_id, child_id, wrapping_id, wrapped)

    def _unwrap(self, stored: StoredDataKey) -> AESGCM:
        assert stored.wrapping_key_id is not None and stored.wrapped_key is not None  # not shredded (CHECK)
        wrapping = self.master.cipher(stored.wrapping_key_id)
        if wrapping is None:
            raise PayloadDecryptionError(
                f"data key {stored.key_id!r} is wrapped by master key {stored.wrapping_key_id!r}, which"
                " PAYLOAD_ENCRYPTION_KEYS does not hold"
            )
        data = stored.wrapped_key
        try:
            return AESGCM(wrapping.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], stored.key_id.encode()))
        except InvalidTag:
            raise PayloadDecryptionError(f"data key {stored.key_id!r} failed authentication: altered") from None


class DataKeyCodec(PayloadCodec, WithSerializationContext):
    """The master codec, with a child's payloads sealed by the child's data key (see the module)."""

    def __init__(self, keys: DataKeys, workflow_id: str | None = None) -> None:
        self.keys = keys
        self.workflow_id = workflow_id

    def with_context(self, context: SerializationContext) -> Self:
        workflow_id = getattr(context, "workflow_id", None)  # workflow and activity contexts carry one
        if workflow_id == self.workflow_id:
            return self
        return type(self)(self.keys, workflow_id)

    def uncached(self) -> Self:
        return type(self)(self.keys.uncached(), self.workflow_id)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key = await self.keys.for_workflow(self.workflow_id) if payloads and self.workflow_id else None
        if key is None:
            return await self.keys.master.encode(payloads)
        key_id, cipher = key
        return [seal(key_id, cipher, payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            key_id = key_id_of(payload)
            if payload.metadata.get("encoding") == ENCODING and key_id.startswith(DATA_KEY_PREFIX):
                decoded.append(unseal(key_id, await self.keys.by_id(key_id), payload))
            else:
                decoded.append(self.keys.master.decrypt(payload))
        return decoded
