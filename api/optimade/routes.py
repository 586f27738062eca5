"""The entry routes, answered with JSON written in one pass.

The reference routers return a dict of validated models; FastAPI then dumps it to Python
objects, validates it again against the response model, dumps it once more and lets
``json.dumps`` encode it, which is most of the time a page of 20 structures takes. These
routes build the same document from plain objects (``atlas2d.api.optimade.documents``: the
reference handlers' steps without their per-request models) and encode it in one pass.
They are mounted ahead of the reference routes at the same paths, which stay in the OpenAPI
description.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from optimade.server.query_params import EntryListingQueryParams, SingleEntryQueryParams
from optimade.server.routers.utils import BASE_URL_PREFIXES, JSONAPIResponse
from pydantic_core import to_json

from atlas2d.api.optimade import documents

LISTINGS = ("structures", "references", "links")
SINGLE_ENTRIES = ("structures", "references")


_ORJSON_OPTIONS = orjson.OPT_UTC_Z
"""UTC times end in ``Z``, as pydantic-core writes them; the rest of orjson's output is byte for byte pydantic-core's."""


def _json(document: dict[str, Any]) -> Response:
    """``document`` (plain objects, as ``documents`` builds them) encoded in one pass.

    Validating it again, as FastAPI does for ``response_model``, costs 3-4 ms on a page of
    20 structures and can find nothing new. orjson writes a page of 20 structures in less
    than half of pydantic-core's time (0.37 vs 0.85 ms), the same bytes; a value it does not
    know (none of the store's types, but a provider's raw JSON could hold big integers) goes
    to pydantic-core, which knows more types.
    """
    try:
        content = orjson.dumps(document, option=_ORJSON_OPTIONS)
    except TypeError:
        content = to_json(document)
    return Response(content=content, media_type=JSONAPIResponse.media_type)


def _listing(entry_type: str) -> Callable[..., Response]:
    def endpoint(request: Request, params: Annotated[EntryListingQueryParams, Depends()]) -> Response:
        collection = request.app.state.entry_collections[entry_type]
        return _json(documents.listing(collection, request, params))

    return endpoint


def _single(entry_type: str) -> Callable[..., Response]:
    def endpoint(request: Request, entry_id: str, params: Annotated[SingleEntryQueryParams, Depends()]) -> Response:
        collection = request.app.state.entry_collections[entry_type]
        return _json(documents.single(collection, request, entry_id, params))

    return endpoint


def entry_router() -> APIRouter:
    """Listing and single-entry routes for every collection atlas2d serves."""
    router = APIRouter(include_in_schema=False)
    for entry_type in LISTINGS:
        router.add_api_route(f"/{entry_type}", _listing(entry_type), methods=["GET"])
    for entry_type in SINGLE_ENTRIES:
        router.add_api_route(f"/{entry_type}/{{entry_id:path}}", _single(entry_type), methods=["GET"])
    return router


def serve_entries_first(app: FastAPI) -> None:
    """Mount ``entry_router`` at the unversioned and every versioned base URL, ahead of the
    reference routes (Starlette answers with the first route that matches)."""
    before = len(app.router.routes)
    router = entry_router()
    for prefix in ("", *BASE_URL_PREFIXES.values()):
        app.include_router(router, prefix=prefix)
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = added
