"""The Temporal UI's remote codec: ``POST /codec/decode`` and ``POST /codec/encode`` (admins only).

Every Temporal payload is AES-256-GCM encrypted (coach_sessions/payload_codec.py). Started with
``--ui-codec-endpoint <api>/codec`` (``make run`` does), the UI posts the payloads it shows to
``/codec/decode`` from the operator's browser and shows the answer; only an admin gets one. CORS and
the body cap: api/codec_cors.py, api/middleware.py. docs/operations.md, "Reading decoded histories".
"""

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field, StringConstraints

from api.deps import CodecAdmin, ServicesDep
from api.middleware import CODEC_MAX_BODY_BYTES
from api.openapi import ADMIN_ONLY, AUTHENTICATED_WRITE, JSON_BODY, errors
from api.schemas import Body

router = APIRouter(prefix="/codec", tags=["codec"])

# protobuf's JSON form of bytes: standard or URL-safe base64, padding optional. Exactly the strings that
# decode (groups of four, then two or three more), so what the document allows the route takes.
_B64 = "[A-Za-z0-9+/_-]"
Base64 = Annotated[str, StringConstraints(pattern=rf"^(?:{_B64}{{4}})*(?:{_B64}{{2}}(?:==)?|{_B64}{{3}}=?)?$")]


class CodecPayload(Body):
    """One ``temporal.api.common.v1.Payload`` in protobuf's JSON form."""

    metadata: dict[Annotated[str, StringConstraints(min_length=1, max_length=256)], Base64] = Field(
        default_factory=dict, max_length=64, description="Each value base64; `encoding` names the format."
    )
    data: Base64 = Field(default="", description="The payload's bytes, base64.")


class CodecPayloads(Body):
    payloads: list[CodecPayload] = Field(default_factory=list, max_length=10_000)


def _errors() -> dict[int | str, dict[str, Any]]:
    declared = errors(*AUTHENTICATED_WRITE, *ADMIN_ONLY, *JSON_BODY)
    cap = f"Body larger than the codec's cap ({CODEC_MAX_BODY_BYTES} bytes)."
    declared[413] = {**declared[413], "description": cap}
    declared[422] = {
        **declared[422],
        "description": "A field is invalid (not base64), or a payload cannot be decrypted: its key id is not "
        "configured, or it was altered; `fields` names the payload.",
    }
    return declared


def _wire(body: CodecPayloads) -> list[tuple[dict[str, str], str]]:
    return [(payload.metadata, payload.data) for payload in body.payloads]


@router.post("/decode", response_model=CodecPayloads, responses=_errors())
async def codec_decode(body: CodecPayloads, principal: CodecAdmin, services: ServicesDep) -> dict[str, Any]:
    """Decrypt payloads for display (the Temporal UI's remote codec). Admin: a bearer token, or an admin's
    page session from TEMPORAL_UI_ORIGIN. Payloads that are not encrypted come back unchanged."""
    return {"payloads": await services.codec.decode(_wire(body))}


@router.post("/encode", response_model=CodecPayloads, responses=_errors())
async def codec_encode(body: CodecPayloads, principal: CodecAdmin, services: ServicesDep) -> dict[str, Any]:
    """Encrypt payloads with the current key (the UI encodes what an operator sends, e.g. a signal's input)."""
    return {"payloads": await services.codec.encode(_wire(body))}
