"""The pages people open in a browser; their assets are vendored in `service/web/`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from shared.contract import Routes

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
STATIC_PATH = "/static"
# pages run only our own files: nothing inline, nothing from elsewhere
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get(Routes.HOME)
async def upload_page() -> FileResponse:
    """Drop videos, watch them being cleaned, download the results."""
    return FileResponse(WEB_DIR / "index.html", headers=PAGE_HEADERS)


@router.get(Routes.ADMIN_PAGE)
async def admin_page() -> FileResponse:
    """The fleet, task and log viewer. The page holds no data: every table is filled from the
    admin API with the token the operator enters (none needed from loopback when exempt)."""
    return FileResponse(WEB_DIR / "admin.html", headers=PAGE_HEADERS)


def static_files() -> StaticFiles:
    return StaticFiles(directory=WEB_DIR)
