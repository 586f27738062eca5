"""The entry routes, answered with JSON that pydantic-core writes in one pass.

The reference routers return a dict of validated models; FastAPI then dumps it to Python
objects, validates it again against the response model, dumps it once more and lets
``json.dumps`` encode it, which is most of the time a page of 20 structures takes. These
routes call the same reference handlers (``get_entries`` / ``get_single_entry``), dump
their models once with the reference routes' options and let pydantic-core encode the
result: the same document. They are mounted ahead of the reference routes at the same
paths, which stay in the OpenAPI description.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from optimade.server.query_params import EntryListingQueryParams, SingleEntryQueryParams
from optimade.server.routers.utils import (
    BASE_URL_PREFIXES,
    JSONAPIResponse,
    get_entries,
    get_single_entry,
)
from pydantic import BaseModel
from pydantic_core import to_json

LISTINGS = ("structures", "references", "links")
SINGLE_ENTRIES = ("structures", "references")


def _json(body: dict[str, Any]) -> Response:
    """``body`` as the reference routes would write it, without validating it again.

    ``body`` holds validated models (links, meta, entries) or entries that
    ``handle_response_fields`` already dumped from them: dumping the models as FastAPI does
    (JSON mode, by alias, unset fields left out) and letting pydantic-core encode the result
    gives the same document. Validating it again, as FastAPI does for ``response_model``,
    costs 3-4 ms on a page of 20 structures and can find nothing new.
    """
    document = {key: _dumped(value) for key, value in body.items()}
    return Response(content=to_json(document), media_type=JSONAPIResponse.media_type)


def _dumped(value: Any) -> Any:
    """A model as JSON-ready Python objects; a list of them item by item; anything else as it is."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, list):
        return [_dumped(item) for item in value]
    return value


def _listing(entry_type: str) -> Callable[..., Response]:
    def endpoint(request: Request, params: Annotated[EntryListingQueryParams, Depends()]) -> Response:
        collection = request.app.state.entry_collections[entry_type]
        return _json(get_entries(collection=collection, request=request, params=params))

    return endpoint


def _single(entry_type: str) -> Callable[..., Response]:
    def endpoint(request: Request, entry_id: str, params: Annotated[SingleEntryQueryParams, Depends()]) -> Response:
        collection = request.app.state.entry_collections[entry_type]
        return _json(get_single_entry(collection=collection, entry_id=entry_id, request=request, params=params))

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
