"""A family's link: a capability that lets a parent reach their own children's record (issue 22's
export and erasure by a parent; the parent's pages build on it).

``fl1.<parent id>.<version>.<expires>.<mac>``: the parent's id (32 hex digits), the family's link
version (``parents.family_link_version``: raising it revokes every older link), the expiry (Unix
seconds) and an HMAC-SHA256 over all three with FAMILY_LINK_SECRET (base64url, 43 characters). Reading
a link checks the shape, the MAC (in constant time) and the expiry; the caller checks the version
against the parent's row. Every refusal is the same, so a caller learns nothing about which part failed.
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

_PREFIX = "fl1"
_SHAPE = re.compile(r"fl1\.([0-9a-f]{32})\.([1-9][0-9]{0,8})\.([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{43})")
MAX_LINK_LENGTH = 128  # a longer header is refused before any parsing


@dataclass(frozen=True)
class FamilyLink:
    parent_id: UUID
    version: int
    expires_at: datetime


def _mac(secret: bytes, parent_id: UUID, version: int, expires: int) -> str:
    message = f"{_PREFIX}|{parent_id.hex}|{version}|{expires}".encode()
    return base64.urlsafe_b64encode(hmac.new(secret, message, hashlib.sha256).digest()).rstrip(b"=").decode()


def mint(secret: bytes, parent_id: UUID, version: int, *, now: datetime, ttl: timedelta) -> tuple[str, datetime]:
    """A link for the family, and when it expires (whole seconds)."""
    expires = int((now + ttl).timestamp())
    token = f"{_PREFIX}.{parent_id.hex}.{version}.{expires}.{_mac(secret, parent_id, version, expires)}"
    return token, datetime.fromtimestamp(expires, UTC)


def read(secret: bytes, token: str, *, now: datetime) -> FamilyLink | None:
    """The link's family, or None: malformed, altered, signed with another secret, or expired."""
    if len(token) > MAX_LINK_LENGTH:
        return None
    match = _SHAPE.fullmatch(token)
    if match is None:
        return None
    parent_id, version, expires = UUID(hex=match[1]), int(match[2]), int(match[3])
    if not hmac.compare_digest(_mac(secret, parent_id, version, expires), match[4]):
        return None
    expires_at = datetime.fromtimestamp(expires, UTC)
    if expires_at <= now:
        return None
    return FamilyLink(parent_id, version, expires_at)
