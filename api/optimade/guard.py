"""What stands between a hostile request and the OPTIMADE app: every bad request gets a 4xx
JSON:API error, every real fault a logged 500 with a request id, and no connection is dropped.

The reference application answers FastAPI's query-parameter errors (``page_limit=abc``) with
500 and a detail that names server files, raises its middleware's ``BadRequest`` and ``553``
past its own exception handlers (answered, but logged as "Exception in ASGI application"),
fails on warnings for responses that are not JSON, and hands NUL bytes and numbers beyond
``bigint`` on to PostgreSQL. Here:

- ``RequestGuard``, the outermost middleware, gives each request an id (``X-Request-ID``
  header), refuses NUL characters in the path or query and integer parameters that are not
  plain ASCII integers of at most 18 digits, turns any ``OptimadeHTTPException`` or HTTP
  exception raised by middleware into its JSON:API response, and answers anything else with
  a 500 that names only the request id, logging the traceback under that id;
- ``query_validation_error`` answers FastAPI's parameter validation errors with 400, naming
  the parameter and the problem, never the input's handling code;
- the reference middleware runs as plain ASGI (``atlas2d.api.optimade.middleware``):
  ``CollectWarnings`` replaces the reference ``AddWarnings``: warnings are collected per request
  (a context variable, where the reference shares one list between concurrent requests) and
  added to JSON bodies only; ``SafeApiHint`` answers an ``api_hint`` redirect without copying
  the request's headers into the response.
"""

from __future__ import annotations

import logging
import re
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from optimade.exceptions import BadRequest, OptimadeHTTPException
from optimade.models import OptimadeError
from optimade.server.exception_handlers import general_exception
from optimade.server.middleware import AddWarnings, CheckWronglyVersionedBaseUrls, EnsureQueryParamIntegrity, HandleApiHint
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atlas2d.api.optimade.middleware import ApiHintWhenGiven, CollectWarnings, LoggingContext, ReferenceChecks

log = logging.getLogger("atlas2d.api.optimade")

INTEGER_PARAMETERS = ("page_limit", "page_offset", "page_number", "page_cursor")
_INTEGER = re.compile(r"-?[0-9]{1,18}", re.ASCII)
REQUEST_ID_HEADER = "X-Request-ID"


class RequestGuard:
    """Outermost ASGI middleware: request ids, early refusal of hostile input, no unanswered fault."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER.lower().encode(), request_id.encode())]
            await send(message)

        problem = refusal(Request(scope))
        if problem is not None:
            await _error_response(scope, BadRequest(detail=problem))(scope, receive, send_with_id)
            return
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: every fault gets an answer
            if not isinstance(exc, OptimadeHTTPException | StarletteHTTPException) or exc.status_code == 500:
                log.error("request %s failed: %s %s", request_id, scope.get("method"), scope.get("path"), exc_info=exc)
                exc = InternalError(request_id)
            if started:
                log.error("request %s: the response had started; the connection is closed", request_id)
                return
            await _error_response(scope, exc)(scope, receive, send_with_id)


class InternalError(OptimadeHTTPException):
    """A fault of the server: the answer names the request id under which it is logged, nothing else."""

    status_code = 500
    title = "Internal Server Error"

    def __init__(self, request_id: str) -> None:
        super().__init__(detail=f"the server failed on this request; it is logged under request id {request_id}")
        self.request_id = request_id


def refusal(request: Request) -> str | None:
    """Why ``request`` is refused before it reaches the app (400), or None.

    NUL characters can reach no part of the app usefully (PostgreSQL text cannot hold them);
    the integer parameters must be plain ASCII integers that fit PostgreSQL's ``bigint`` after
    multiplying by a page size, which FastAPI's ``int`` does not check (it takes ``²`` and
    ``1_000`` in some versions and any size).
    """
    if "\x00" in request.scope["path"] or any("\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()):
        return "the request contains a NUL character"
    for name in INTEGER_PARAMETERS:
        for value in request.query_params.getlist(name):
            if not _INTEGER.fullmatch(value):
                return f"{name} must be an integer written with the digits 0-9 (at most 18 of them), not {_shown(value)}"
    return None


def _shown(value: str, width: int = 40) -> str:
    return repr(value if len(value) <= width else value[:width] + "…")


def _error_response(scope: Scope, exc: Exception) -> Response:
    """The reference server's JSON:API error document for ``exc``; a minimal one if even that fails."""
    request = Request(scope)
    status = getattr(exc, "status_code", 500)
    error = OptimadeError(
        detail=str(getattr(exc, "detail", None) or exc),
        status=status,
        title=str(getattr(exc, "title", "Error")),
        **({"meta": {"_atlas2d_request_id": exc.request_id}} if isinstance(exc, InternalError) else {}),
    )
    try:
        response: Response = general_exception(request, exc, status_code=status, errors=[error])
    except Exception:  # noqa: BLE001 - e.g. a URL the meta builder cannot represent
        document = {"errors": [{"status": str(status), "title": error.title, "detail": error.detail}]}
        response = JSONResponse(document, status_code=status, media_type="application/vnd.api+json")
    response.headers["access-control-allow-origin"] = "*"
    return response


def query_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's parameter validation errors as 400: each names the parameter and the problem (not the code)."""
    errors = []
    for problem in exc.errors():
        location = [str(part) for part in problem.get("loc", ()) if part not in ("query", "path")]
        name = ".".join(location) or "request"
        errors.append(
            OptimadeError(
                detail=f"{name}: {problem.get('msg', 'invalid value')}",
                status=400,
                title="Bad Request",
                source={"parameter": name},
            )
        )
    if not errors:
        errors.append(OptimadeError(detail="invalid query parameters", status=400, title="Bad Request"))
    return general_exception(request, exc, status_code=400, errors=errors)


def server_validation_error(request: Request, exc: ValidationError) -> Response:
    """A response model that does not validate is the server's fault: logged under the request id, 500."""
    request_id = getattr(request.state, "request_id", "-")
    log.error("request %s failed: %s %s", request_id, request.method, request.url.path, exc_info=exc)
    return _error_response(request.scope, InternalError(request_id))


def harden(app: FastAPI, logger_tag: str) -> None:
    """Install the guard and the 400 handler on the reference ``app``, and its middleware as plain ASGI.

    The reference middleware (``logger_tag`` is the one its logging context sets) is replaced
    in place, keeping the order: ``atlas2d.api.optimade.middleware`` says what each does.
    """
    replaced = []
    for m in app.user_middleware:
        if m.cls is AddWarnings:
            replaced.append(Middleware(CollectWarnings))
        elif m.cls is HandleApiHint:
            replaced.append(Middleware(ApiHintWhenGiven))
        elif m.cls is CheckWronglyVersionedBaseUrls:
            replaced.append(Middleware(ReferenceChecks))
        elif m.cls is EnsureQueryParamIntegrity:
            continue  # ReferenceChecks runs its check too, after the version check as here
        elif m.cls is BaseHTTPMiddleware and getattr(m.kwargs.get("dispatch"), "__name__", "") == "set_context":
            replaced.append(Middleware(LoggingContext, tag=logger_tag))
        else:
            replaced.append(m)
    app.user_middleware[:] = replaced
    app.add_middleware(RequestGuard)
    app.add_exception_handler(RequestValidationError, query_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(ValidationError, server_validation_error)  # type: ignore[arg-type]
