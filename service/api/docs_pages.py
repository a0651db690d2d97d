"""The API's documentation pages (Swagger UI at /docs, ReDoc at /redoc) with a CSP: they load
their bundles from the CDN FastAPI names, and run no inline script but their own start-up one,
allowed by its hash."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OPENAPI_PATH = "/openapi.json"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

router = APIRouter(include_in_schema=False)


def csp_for(html: str) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src https://cdn.jsdelivr.net {hashes}; "
        # the UIs set style attributes and inject <style> as they render: styles cannot run code
        "style-src https://cdn.jsdelivr.net https://fonts.googleapis.com 'unsafe-inline'; "
        "font-src https://fonts.gstatic.com; "
        "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.jsdelivr.net; "
        "connect-src 'self'; worker-src blob:; object-src 'none'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )


def _page(response: HTMLResponse) -> HTMLResponse:
    html = bytes(response.body).decode()
    headers = {
        "Content-Security-Policy": csp_for(html),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(html, headers=headers)


@router.get(DOCS_PATH)
async def swagger_ui() -> HTMLResponse:
    return _page(get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="SoraWM fleet - Swagger UI"))


@router.get(REDOC_PATH)
async def redoc() -> HTMLResponse:
    return _page(get_redoc_html(openapi_url=OPENAPI_PATH, title="SoraWM fleet - ReDoc"))
