"""The remote codec for the Temporal UI (``POST /codec/decode`` and ``/codec/encode``).

Temporal's remote codec protocol: ``{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}``
in and out (protobuf's JSON form of ``Payloads``). The codec is the one of this process's Temporal client
(``coach_sessions.temporal.data_converter``), so the UI decodes exactly what the worker and API encrypt.
"""

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence

from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from coach_sessions.data_key_codec import DataKeyCodec
from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.payload_codec import PayloadDecryptionError

WirePayload = dict[str, object]


def _unb64(value: str, field: str) -> bytes:
    try:  # protobuf's JSON accepts standard and URL-safe base64, padded or not
        return base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"{field}: not base64",
            fields=[{"field": field, "message": "not base64"}],
        ) from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class CodecService:
    def __init__(self, codec: PayloadCodec | None) -> None:
        self.codec = codec  # None: PAYLOAD_ENCRYPTION_KEYS unset (development/test), payloads pass as they are

    async def decode(self, payloads: Sequence[tuple[dict[str, str], str]]) -> list[WirePayload]:
        # Children's data keys looked up afresh: an erased child's history refuses here at once
        # (coach_sessions/data_key_codec.py), not after this process's cache expires.
        codec = self.codec.uncached() if isinstance(self.codec, DataKeyCodec) else self.codec
        return await self._apply(payloads, codec.decode if codec else None)

    async def encode(self, payloads: Sequence[tuple[dict[str, str], str]]) -> list[WirePayload]:
        return await self._apply(payloads, self.codec.encode if self.codec else None)

    async def _apply(
        self,
        wire: Sequence[tuple[dict[str, str], str]],
        apply: Callable[[Sequence[Payload]], Awaitable[list[Payload]]] | None,
    ) -> list[WirePayload]:
        payloads = [
            Payload(
                metadata={key: _unb64(value, f"payloads.{i}.metadata.{key}") for key, value in metadata.items()},
                data=_unb64(data, f"payloads.{i}.data"),
            )
            for i, (metadata, data) in enumerate(wire)
        ]
        done: list[Payload] = []
        for i, payload in enumerate(payloads):  # one at a time: a refusal names the payload
            try:
                done += await apply([payload]) if apply else [payload]
            except PayloadDecryptionError as error:  # names a key id and a reason, never key or plaintext
                raise DomainError(
                    ErrorCode.VALIDATION_ERROR,
                    f"payloads.{i}: {error}",
                    fields=[{"field": f"payloads.{i}", "message": str(error)}],
                ) from None
        return [
            {"metadata": {key: _b64(value) for key, value in p.metadata.items()}, "data": _b64(p.data)} for p in done
        ]
