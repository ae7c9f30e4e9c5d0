"""A real local HTTP server publishing a JWKS (an identity provider's keys), for the provider-token tests:
tests/test_provider_tokens.py (the verifier alone) and tests/test_provider_bearer.py (through the API)."""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


def jwk_of(private_key: Any, kid: str) -> dict[str, Any]:
    if isinstance(private_key, rsa.RSAPrivateKey):
        jwk: dict[str, Any] = dict(RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True))  # type: ignore[arg-type]
        return jwk | {"kid": kid, "alg": "RS256", "use": "sig"}
    jwk = dict(ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True))  # type: ignore[arg-type]
    return jwk | {"kid": kid, "alg": "ES256", "use": "sig"}


class JwksServer:
    """Serves ``document`` at /.well-known/jwks.json and counts the requests it answers."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.requests = 0
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                time.sleep(outer.delay)  # this server's own thread: slow answers let requests overlap
                body = json.dumps(outer.document).encode()
                self.send_response(200 if self.path == "/.well-known/jwks.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def publish(self, *keys: tuple[Any, str]) -> None:
        self.document = {"keys": [jwk_of(key, kid) for key, kid in keys]}

    def stop(self) -> None:
        """Down: the port refuses connections from now on."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._server.server_close()


@dataclass(frozen=True)
class FromNow:
    """A NumericDate this many seconds from when the test runs (not from collection: the suite runs for
    minutes, and "600 s from now" at collection was already in the past when its test ran)."""

    seconds: int
    text: bool = False  # as a string, which RFC 7519 does not allow

    def __repr__(self) -> str:
        return f"now{self.seconds:+d}s" + (" as text" if self.text else "")


def resolve(claims: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    return {
        name: (str(now + v.seconds) if v.text else now + v.seconds) if isinstance(v, FromNow) else v
        for name, v in claims.items()
    }
