"""Browser security headers on every answer (issue 21, "Headers"): one pure ASGI middleware.

Pure ASGI, like ``api/middleware.py``, and added outermost, so the answers the other middlewares make
themselves (the body cap's 413, the last-resort 500) carry the headers too. The 431 for an oversized
head never reaches ASGI: ``api/http_protocol.py`` writes ``STATIC_HEADERS`` into it itself.

A header a route already set is left as it is, neither replaced nor sent twice: a page that needs a
stricter value (``Referrer-Policy: no-referrer``, say) sets it and wins.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Everything from our own origin and nothing inline: no page has an inline script or style (a script
# reads what it needs from data- attributes), so an injected <script> or onclick= does not run.
# data: images are the small SVG icons inside Swagger UI's stylesheet.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

STATIC_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: under no-referrer browsers send "Origin: null" on a POST, and the
    # sign-in's CSRF defence checks Origin, so our own forms would be refused. Other sites still get
    # no Referer (no page path, no child id) from us.
    (b"referrer-policy", b"same-origin"),
    # frame-ancestors 'none' above is the standard; X-Frame-Options is for browsers that predate it.
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]

# Only over HTTPS: browsers ignore HSTS on plain http anyway, and sending it from a development server
# would teach nothing. Behind a TLS proxy, uvicorn sets scope["scheme"] from X-Forwarded-Proto when the
# proxy's address is in FORWARDED_ALLOW_IPS (docs/security.md, "Security headers").
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def _merged(headers: list[tuple[bytes, bytes]], ours: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    return [*headers, *((name, value) for name, value in ours if name not in present)]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ours = [*STATIC_HEADERS, HSTS] if scope.get("scheme") == "https" else STATIC_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merged(list(message.get("headers", [])), ours)
            await send(message)

        await self.app(scope, receive, send_with_headers)
