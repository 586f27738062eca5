"""The reference server's middleware, as plain ASGI callables with the same checks and answers.

The reference application stacks five ``BaseHTTPMiddleware`` layers (its logging context,
the query and version checks, ``api_hint``, warnings). Each runs the rest of the application
in a new task and passes the response through memory streams; under load the five cost a
request about a fifth of its CPU time, for checks that take microseconds. Here:

- ``ReferenceChecks`` runs the reference's own URL checks (``CheckWronglyVersionedBaseUrls``,
  then ``EnsureQueryParamIntegrity``) and lets their exceptions rise to ``RequestGuard``,
  which answers them as before;
- ``ApiHintWhenGiven`` hands a request to ``SafeApiHint`` only when it has an ``api_hint``;
- ``LoggingContext`` sets the reference logger's tag;
- ``CollectWarnings`` collects the request's OPTIMADE warnings (per request, in a context
  variable) with the reference ``AddWarnings.showwarning``, and only when there are some
  buffers a JSON response to add them to its ``meta``.
"""

from __future__ import annotations

import json
import urllib.parse
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from optimade.server.logger import set_logging_context
from optimade.server.middleware import AddWarnings, CheckWronglyVersionedBaseUrls, EnsureQueryParamIntegrity, HandleApiHint
from optimade.warnings import OptimadeWarning
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_collected: ContextVar[list[dict[str, Any]] | None] = ContextVar("optimade_warnings", default=None)


def request_warnings() -> list[dict[str, Any]] | None:
    """The warnings collected so far for the current request; None outside a request."""
    return _collected.get()


@contextmanager
def collecting_warnings() -> Iterator[list[dict[str, Any]]]:
    """A fresh list of warnings for the request that runs in this block (and the threads it starts)."""
    collected: list[dict[str, Any]] = []
    token = _collected.set(collected)
    try:
        yield collected
    finally:
        _collected.reset(token)


class ReferenceChecks:
    """The reference's versioned-URL and query-integrity checks, in its order, before the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            if request.url.path:
                CheckWronglyVersionedBaseUrls.check_url(request.app.state.config, request.url)
            query = urllib.parse.urlsplit(str(request.url)).query
            if query:
                EnsureQueryParamIntegrity.check_url(query)
        await self.app(scope, receive, send)


class SafeApiHint(HandleApiHint):
    """The reference ``api_hint`` handling; its redirect carries only its location, not the request's headers."""

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response = await super().dispatch(request, call_next)
        if isinstance(response, RedirectResponse):
            return RedirectResponse(response.headers["location"], status_code=response.status_code)
        return response


class ApiHintWhenGiven:
    """``SafeApiHint`` for requests with an ``api_hint`` parameter; the others go straight on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.hinted = SafeApiHint(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"").decode("latin-1") if scope["type"] == "http" else ""
        if query and "api_hint" in urllib.parse.parse_qs(query, keep_blank_values=True):
            await self.hinted(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class LoggingContext:
    """The reference's per-request logging tag (its ``set_context`` middleware)."""

    def __init__(self, app: ASGIApp, tag: str) -> None:
        self.app = app
        self.tag = tag

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            set_logging_context(self.tag)
        await self.app(scope, receive, send)


class CollectWarnings:
    """OPTIMADE warnings raised while answering a request, added to its JSON ``meta.warnings``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.reference = _RequestWarnings(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.reference._config = scope["app"].state.config  # noqa: SLF001 - AddWarnings reads its config from there
        warnings.simplefilter(action="default", category=OptimadeWarning)
        warnings.showwarning = self.reference.showwarning
        with collecting_warnings() as collected:
            await self.app(scope, receive, _WarningsAdder(send, collected))


class _RequestWarnings(AddWarnings):
    """``AddWarnings`` for its ``showwarning`` only, appending to the current request's list.

    The reference keeps one list on the middleware, shared by concurrent requests; a warning
    raised outside any request (no list) is dropped as the reference's would be overwritten.
    """

    @property  # type: ignore[override]
    def _warnings(self) -> list[dict[str, Any]]:
        collected = _collected.get()
        return collected if collected is not None else []

    @_warnings.setter
    def _warnings(self, value: list[dict[str, Any]]) -> None:
        collected = _collected.get()
        if collected is not None:
            collected[:] = value


class _WarningsAdder:
    """A ``send`` that passes a response through, unless warnings were collected by the time it
    starts and it is JSON: then its body is gathered, given ``meta.warnings``, and sent once."""

    def __init__(self, send: Send, collected: list[dict[str, Any]]) -> None:
        self.send = send
        self.collected = collected
        self.start: Message | None = None
        self.body: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = dict((k.lower(), v) for k, v in message.get("headers", []))
            if self.collected and b"json" in headers.get(b"content-type", b""):
                self.start = message
                return
        elif message["type"] == "http.response.body" and self.start is not None:
            self.body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._send_with_warnings()
            return
        await self.send(message)

    async def _send_with_warnings(self) -> None:
        assert self.start is not None
        body = b"".join(self.body)
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if isinstance(document, dict):
            document.setdefault("meta", {})["warnings"] = self.collected
            body = json.dumps(document).encode()
        headers = [(k, v) for k, v in self.start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})
