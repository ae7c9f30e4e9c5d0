"""The pages and /docs over plain HTTP (no browser): served from our own files, never from a CDN."""

from uuid import uuid4

import asyncpg

from tests.factories import make_family
from tests.helpers import Stack
from tests.sign_in_support import signed_in


async def test_pages_and_assets_are_served_locally(stack: Stack, pool: asyncpg.Pool) -> None:
    pages = ("/coach/agenda", "/coach/sessions", "/coach/sign-in", f"/coach/children/{uuid4()}/progress", "/docs")
    async with signed_in(stack.http, (await make_family(pool)).coach.id) as browser:
        for path in pages:
            r = await browser.get(path)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
            assert "cdn." not in r.text and "unpkg" not in r.text, path
    for path in pages[:2]:  # no session: sign in first, then back here
        r = await stack.http.get(path)
        assert (r.status_code, r.headers["location"]) == (303, f"/coach/sign-in?next={path}"), path
    docs = (await stack.http.get("/docs")).text
    assert "/static/vendor/swagger-ui-bundle.js" in docs and "/static/vendor/swagger-ui.css" in docs
    for asset in ("/static/vendor/swagger-ui-bundle.js", "/static/vendor/chart.umd.min.js", "/static/coach.js"):
        assert (await stack.http.get(asset)).status_code == 200, asset
    favicon = await stack.http.get("/favicon.ico")
    assert favicon.status_code == 200 and favicon.headers["content-type"].startswith("image/svg+xml")
    assert (await stack.http.get("/redoc")).status_code == 404
    assert (await stack.http.get("/", follow_redirects=False)).headers["location"] == "/coach/agenda"


async def test_pages_are_not_api_operations(stack: Stack) -> None:
    paths = (await stack.http.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith(("/coach/", "/docs", "/static", "/favicon"))]
    slots = paths["/api/sessions/available-slots"]["get"]["responses"]
    assert set(slots) == {"200", "401", "404", "422", "500", "503"}
    assert slots["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SessionNotFoundError"
    }
