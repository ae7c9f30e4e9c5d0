"""The coach pages (server-side templates + small static scripts) and the self-hosted API docs.

The pages hold no data of their own: their scripts call the same JSON API as any client, with the
bearer token kept in the tab's session storage. Nothing is fetched from a CDN.
"""

from pathlib import Path
from uuid import UUID

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=RedirectResponse)
async def home() -> RedirectResponse:
    return RedirectResponse("/coach/agenda")


@router.get("/coach", response_class=RedirectResponse)
async def coach_home() -> RedirectResponse:
    return RedirectResponse("/coach/agenda")


@router.get("/coach/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "sign_in.html", {"title": "Sign in"})


@router.get("/coach/agenda", response_class=HTMLResponse)
async def agenda_page(request: Request) -> HTMLResponse:
    """The coach's landing page: Needs you, Today, This week (GET /api/coach/agenda)."""
    return templates.TemplateResponse(request, "agenda.html", {"title": "Agenda"})


@router.get("/coach/sessions", response_class=HTMLResponse)
async def sessions_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "sessions.html", {"title": "Sessions"})


@router.get("/coach/children/{child_id}/progress", response_class=HTMLResponse)
async def progress_page(request: Request, child_id: UUID) -> HTMLResponse:
    return templates.TemplateResponse(request, "progress.html", {"title": "Progress", "child_id": str(child_id)})


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
    app.include_router(router)
