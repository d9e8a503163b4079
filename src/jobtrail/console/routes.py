"""Serves the console (SPEC §5): plain files from the package, no build step, with a strict
Content-Security-Policy so that no user data can ever run as script."""

from importlib.resources import files

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from jobtrail.wire import paths

STATIC = files("jobtrail.console") / "static"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get(paths.CONSOLE)
async def console_page() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"), headers=HEADERS)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse(paths.CONSOLE)


def install_console(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(f"{paths.CONSOLE}/static", StaticFiles(directory=str(STATIC)), name="console-static")
