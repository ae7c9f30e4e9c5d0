"""The coach pages (server-side templates + small static scripts) and the self-hosted API docs.

The pages hold no data of their own: their scripts call the same JSON API as any client, signed in by
the page session's HttpOnly cookie (api/session_cookie.py) and sending its CSRF token, which the page
carries in a meta tag. A page asked for without a live session sends the browser to sign in.
Nothing is fetched from a CDN.
"""

from pathlib import Path
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from api.session_cookie import session_token
from coach_sessions.errors import DomainError
from coach_sessions.repositories.sign_in_sessions import LiveSession

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(include_in_schema=False)


class SignInRequired(Exception):
    def __init__(self, path: str, *, ended: bool) -> None:
        self.path = path
        self.ended = ended


async def page_session(request: Request) -> LiveSession:
    token = session_token(request)
    if token is None:
        raise SignInRequired(request.url.path, ended=False)
    try:
        return await request.app.state.services.sign_in.live_session(token)  # type: ignore[no-any-return]
    except DomainError:
        raise SignInRequired(request.url.path, ended=True) from None


async def _to_sign_in(request: Request, required: Exception) -> Response:
    """303 to the sign-in page, which brings the browser back here afterwards (a #token= fragment
    survives the redirect: browsers keep it when the Location has none)."""
    assert isinstance(required, SignInRequired)
    reason = "&reason=expired" if required.ended else ""
    return RedirectResponse(f"/coach/sign-in?next={quote(required.path, safe='/')}{reason}", status_code=303)


def page(
    request: Request, template: str, session: LiveSession, *, status_code: int = 200, **context: object
) -> HTMLResponse:
    """A page with who is signed in, for the header and the scripts (role, name, CSRF token)."""
    return templates.TemplateResponse(request, template, {"session": session, **context}, status_code=status_code)


@router.get("/", response_class=RedirectResponse)
async def home() -> RedirectResponse:
    return RedirectResponse("/coach/agenda")


@router.get("/coach", response_class=RedirectResponse)
async def coach_home() -> RedirectResponse:
    return RedirectResponse("/coach/agenda")


@router.get("/coach/agenda", response_class=HTMLResponse)
async def agenda_page(request: Request, session: LiveSession = Depends(page_session)) -> HTMLResponse:
    """The coach's landing page: Needs you, Today, This week (GET /api/coach/agenda)."""
    return page(request, "agenda.html", session, title="Agenda")


@router.get("/coach/sessions", response_class=HTMLResponse)
async def sessions_page(request: Request, session: LiveSession = Depends(page_session)) -> HTMLResponse:
    return page(request, "sessions.html", session, title="Sessions")


@router.get("/coach/children/{child_id}/progress", response_class=HTMLResponse)
async def progress_page(request: Request, child_id: UUID, session: LiveSession = Depends(page_session)) -> HTMLResponse:
    return page(request, "progress.html", session, title="Progress", child_id=str(child_id))


@router.get("/coach/desk", response_class=HTMLResponse)
async def desk_page(request: Request, session: LiveSession = Depends(page_session)) -> HTMLResponse:
    """The programme desk (admins): requests to decide and the ops queue (api/static/desk.js)."""
    if not session.principal.is_admin:
        return page(request, "forbidden.html", session, title="Admins only", status_code=403)
    return page(request, "desk.html", session, title="Programme desk")


@router.get("/coach/desk/people", response_class=HTMLResponse)
async def people_page(request: Request, session: LiveSession = Depends(page_session)) -> HTMLResponse:
    """Add parents and children, enrol a child after a preview of its sessions (api/static/people.js)."""
    if not session.principal.is_admin:
        return page(request, "forbidden.html", session, title="Admins only", status_code=403)
    return page(request, "people.html", session, title="People and enrolments")


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    """Swagger UI from our own static files, started by a static script: FastAPI's get_swagger_ui_html
    has an inline <script>, which the Content-Security-Policy (api/security_headers.py) would block."""
    app = request.app
    context = {"title": f"{app.title} - API docs", "openapi_url": app.openapi_url}
    return templates.TemplateResponse(request, "swagger_ui.html", context)


def install_pages(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.include_router(router)
