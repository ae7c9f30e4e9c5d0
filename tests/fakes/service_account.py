"""A throwaway Google service-account key for the fake calendar (tests, tests/faults, bench).

google-auth signs its JWT-bearer assertion with the key and posts it to ``token_uri``: pointed at
:attr:`FakeGoogleCalendar.token_uri`, the production client authenticates against the fake unmodified.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT = "coach-sessions-fake"
CLIENT_EMAIL = f"calendar@{PROJECT}.iam.gserviceaccount.com"


@functools.cache
def _private_key_pem() -> str:
    """One 2048-bit RSA key per process: generating it is the slow part, and the fake checks no signature."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def service_account_info(token_uri: str) -> dict[str, str]:
    """The key file's JSON, as the Google Cloud console downloads it (the fields google-auth reads)."""
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "k1",
        "private_key": _private_key_pem(),
        "client_email": CLIENT_EMAIL,
        "client_id": "1",
        "token_uri": token_uri,
    }


def service_account_file(path: Path, token_uri: str) -> Path:
    """Write the key file to ``path`` (for GOOGLE_SERVICE_ACCOUNT_FILE) and return ``path``."""
    path.write_text(json.dumps(service_account_info(token_uri)))
    return path
