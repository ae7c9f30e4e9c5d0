"""A real OpenID provider for the tests: oidc-provider-mock (PyPI; Authlib's authorization server under
Flask), served on localhost:<random> by werkzeug in a thread, behind a thin WSGI layer that records what
the relying party sent (to check PKCE, state and nonce) and, when a test asks, answers the token request
as another host would, so the ID token it signs names another issuer."""

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import oidc_provider_mock
import werkzeug.serving

CLIENT_ID = "coach-sessions-test"
CLIENT_SECRET = "test-client-secret-" + "c" * 20


@dataclass
class OpenIdProvider:
    issuer: str
    # (path, query, form) of every request the provider received, in order
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    token_host: str | None = None  # set: the token endpoint sees this Host (the ID token's iss follows it)

    def add_user(self, sub: str, email: str, *, verified: bool = True) -> None:
        claims = {"email": email, "email_verified": verified, "name": sub}
        assert httpx.put(f"{self.issuer}/users/{sub}", json=claims).status_code == 204

    def sent_to(self, path: str) -> list[dict[str, str]]:
        return [query | form for seen, query, form in self.requests if seen == path]

    def settings(self) -> dict[str, Any]:
        """The app's settings for this provider."""
        return {
            "oidc_issuer": self.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_provider_label": "Test provider",
        }


def _flat(values: dict[str, list[str]]) -> dict[str, str]:
    return {name: found[0] for name, found in values.items()}


@contextmanager
def openid_provider() -> Iterator[OpenIdProvider]:
    app = oidc_provider_mock.app(require_nonce=True)
    server = werkzeug.serving.make_server("localhost", 0, lambda e, s: wsgi(e, s), threaded=True)
    provider = OpenIdProvider(issuer=f"http://localhost:{server.server_port}")

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        form = _flat(parse_qs(body.decode())) if b"=" in body and b"{" not in body[:1] else {}
        path = environ["PATH_INFO"]
        provider.requests.append((path, _flat(parse_qs(environ.get("QUERY_STRING", ""))), form))
        if path == "/oauth2/token" and provider.token_host:
            environ["HTTP_HOST"] = provider.token_host
        return app(environ, start_response)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(5)
