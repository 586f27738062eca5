"""The explorer's application, and the ASGI dispatcher that puts it beside the OPTIMADE API.

The explorer is its own FastAPI application rather than routes added to the OPTIMADE one:
the reference application's middleware (query-parameter checks, warnings, versioned-URL
checks) and JSON:API error handlers then never see a page request, and nothing about
``/v1/...`` changes. ``with_explorer`` sends the explorer's paths to it and every other
request (and the lifespan events) to the API.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from atlas2d.api.web.pages import Pages

HERE = Path(__file__).parent
EXPLORER_PREFIXES = ("/overview", "/materials/", "/entries/", "/assets/")
"""Paths the explorer answers besides ``/`` (the search page); the rest is the OPTIMADE API's."""

log = logging.getLogger("atlas2d.web")


def is_explorer_path(path: str) -> bool:
    """Whether a request path belongs to the explorer."""
    return path == "/" or path.startswith(EXPLORER_PREFIXES)


def create_explorer(database_url: str, *, readonly_url: str | None = None) -> FastAPI:
    """The explorer over the store at ``database_url``, reading as ``atlas2d_reader`` (or through ``readonly_url``)."""
    from atlas2d.api.optimade.app import reader_engine
    from atlas2d.api.web.routes import router

    app = FastAPI(title="atlas2d explorer", docs_url=None, redoc_url=None, openapi_url=None)
    pages = Pages(reader_engine(database_url, readonly_url=readonly_url), HERE / "templates")
    app.state.pages = pages
    app.include_router(router(pages))
    app.mount("/assets", StaticFiles(directory=HERE / "static"), name="assets")

    @app.middleware("http")
    async def server_timing(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """``Server-Timing: app;dur=…`` on every page, so a benchmark can read the server's own time."""
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.2f}"
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return pages.error(request, 404, "Not found", f"There is no page at {request.url.path}.")
        if exc.status_code == 405:
            return pages.error(request, 405, "Method not allowed", f"{request.method} is not allowed here; the pages answer GET.")
        return pages.error(request, exc.status_code, "Request failed", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("explorer page %s failed", request.url.path, exc_info=exc)
        return pages.error(request, 500, "Something went wrong", "The page could not be built; the server log has the details.")

    return app


def with_explorer(api: ASGIApp, explorer: ASGIApp) -> ASGIApp:
    """One ASGI application: the explorer's paths go to ``explorer``, everything else to ``api``."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_explorer_path(scope["path"]):
            await explorer(scope, receive, send)
        else:
            await api(scope, receive, send)

    return dispatch
