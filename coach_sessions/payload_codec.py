"""Every Temporal payload encrypted with AES-256-GCM before it leaves the process (issue 22).

Workflow arguments, update arguments (a coach's notes, a cancellation's reason), results, queries and
workflow state are serialised by the pydantic converter and then encrypted here: the Temporal server,
its database and its UI see ``binary/encrypted`` blobs. Search attributes are not payloads of this
kind and stay ids, numbers and statuses.

Keys come from ``PAYLOAD_ENCRYPTION_KEYS`` (``kid:base64,kid:base64``): the first key encrypts, every
key decrypts, so a rotation adds a new first key and keeps the old ones while histories still need them.
Each encrypted payload names its key in the ``encryption-key-id`` metadata and carries a random 12-byte
nonce before the ciphertext; the key id is bound to the ciphertext as associated data, so relabelling a
payload with another key id fails authentication.

Payloads that are not ``binary/encrypted`` pass through decode untouched: histories written before
encryption (tests/histories/*.json, workflows started before the key was configured) still replay.
"""

import base64
import binascii
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32
DATA_KEY_PREFIX = "dk-"  # a child's data key (coach_sessions/data_key_codec.py), never a master key
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyringError(ValueError):
    """PAYLOAD_ENCRYPTION_KEYS is not a valid keyring (the message never quotes a key)."""


class PayloadDecryptionError(Exception):
    """An encrypted payload that cannot be decrypted: its key is not configured, or it was altered.

    The message names the key id and the reason only: never key material or plaintext.
    """


@dataclass(frozen=True)
class Keyring:
    """Key ids and 32-byte keys in order: ``keys[0]`` encrypts, every key decrypts."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyringError("a keyring needs at least one key")
        ids = [kid for kid, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise KeyringError("PAYLOAD_ENCRYPTION_KEYS has a key id twice; each id must be unique")
        for kid, key in self.keys:
            if not _KEY_ID.match(kid):
                raise KeyringError("a key id is 1-64 letters, digits, '.', '_' or '-'")
            if kid.startswith(DATA_KEY_PREFIX):
                raise KeyringError(f"a key id may not start with {DATA_KEY_PREFIX!r}: children's data keys do")
            if len(key) != KEY_BYTES:
                raise KeyringError(f"key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES} (base64 of 32 bytes)")

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.keys)

    @classmethod
    def parse(cls, value: str) -> "Keyring":
        """``k2:<base64 of 32 bytes>,k1:<base64>`` (standard or URL-safe base64, padding optional)."""
        keys = []
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            if not sep:
                raise KeyringError("PAYLOAD_ENCRYPTION_KEYS entries are <key id>:<base64 key>, separated by commas")
            keys.append((kid.strip(), _b64(kid.strip(), encoded.strip())))
        return cls(tuple(keys))

    @classmethod
    def of(cls, keys: Mapping[str, bytes] | Sequence[tuple[str, bytes]]) -> "Keyring":
        return cls(tuple(keys.items() if isinstance(keys, Mapping) else keys))


def _b64(kid: str, encoded: str) -> bytes:
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"key {kid!r} is not base64") from None


def new_key() -> str:
    """A fresh key, base64 (``python -c 'from coach_sessions.payload_codec import new_key; print(new_key())'``)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._ciphers = {kid: AESGCM(key) for kid, key in keyring.keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        kid = self.keyring.current_id
        return seal(kid, self._ciphers[kid], payload)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # plaintext from before encryption: left as it is
        kid = key_id_of(payload)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            shown = kid if _KEY_ID.match(kid) else "(not a key id)"
            raise PayloadDecryptionError(
                f"payload encrypted with key id {shown!r}, which PAYLOAD_ENCRYPTION_KEYS does not hold "
                f"(configured: {', '.join(self.keyring.ids)})"
            )
        return unseal(kid, cipher, payload)

    def cipher(self, kid: str) -> AESGCM | None:
        """The master key ``kid`` (wraps children's data keys: coach_sessions/data_key_codec.py)."""
        return self._ciphers.get(kid)


def key_id_of(payload: Payload) -> str:
    return payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")


def seal(kid: str, cipher: AESGCM, payload: Payload) -> Payload:
    """``payload`` encrypted with ``cipher``, labelled ``kid`` (bound to the ciphertext as associated data)."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = cipher.encrypt(nonce, payload.SerializeToString(), kid.encode())
    return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: kid.encode()}, data=nonce + sealed)


def unseal(kid: str, cipher: AESGCM, payload: Payload) -> Payload:
    if len(payload.data) < NONCE_BYTES + 16:
        raise PayloadDecryptionError(f"encrypted payload (key id {kid!r}) is too short: truncated or altered")
    try:
        plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], kid.encode())
    except InvalidTag:
        raise PayloadDecryptionError(
            f"encrypted payload (key id {kid!r}) failed authentication: altered, or another key with this id"
        ) from None
    try:
        return Payload.FromString(plain)
    except Exception:  # protobuf's DecodeError; authenticated, so only a foreign writer gets here
        raise PayloadDecryptionError(f"encrypted payload (key id {kid!r}) does not hold a payload") from None


def encrypted_key_ids(payloads: Iterable[Payload]) -> set[str]:
    """The key ids these payloads were encrypted with (tests and operators: which keys a history needs)."""
    return {key_id_of(p) for p in payloads if p.metadata.get("encoding") == ENCODING and KEY_ID_METADATA in p.metadata}
