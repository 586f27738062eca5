"""``/v1/extensions/similar``: "materials like this one" over HTTP, beside the OPTIMADE API.

OPTIMADE leaves ``/extensions`` to providers. ``id`` is an OPTIMADE-style entry id
(``<source>/<source id>``, as in ``/v1/structures``; band-only entries such as generated
tight-binding models use the same form; an entry id or a unique source key also work),
``by`` picks one of the searches registered in ``atlas2d.embeddings.search``, and the
answer lists neighbours with their distances, nearest first.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from atlas2d.embeddings.neighbour import Neighbour
from atlas2d.embeddings.search import SEARCHES, resolve, search_named

MAX_K = 100


def router(engine: Engine) -> APIRouter:
    """The extension's routes, reading through ``engine`` (the read-only role)."""
    routes = APIRouter()

    @routes.get("/v1/extensions/similar", tags=["Extensions"])
    def similar(
        id: Annotated[str | None, Query(description="Entry id, <source>/<source id>.")] = None,  # noqa: A002 - OPTIMADE's name
        by: Annotated[str, Query(description=f"Similarity measure: {', '.join(SEARCHES)}.")] = "bands",
        k: Annotated[str, Query(description=f"How many neighbours, 1 to {MAX_K}.")] = "10",
    ) -> JSONResponse:
        # Checked here rather than by FastAPI: the OPTIMADE app answers its validation errors with 500.
        if not id:
            return _error(400, "Bad Request", "the query parameter 'id' is required")
        try:
            search = search_named(by)
        except ValueError as exc:
            return _error(400, "Bad Request", str(exc))
        if not k.isdigit() or not 1 <= int(k) <= MAX_K:
            return _error(400, "Bad Request", f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
        with Session(engine) as session:
            try:
                neighbours = search(session, resolve(session, id), int(k))
            except LookupError as exc:
                return _error(404, "Not Found", str(exc))
        return JSONResponse(
            {"data": [_json(n) for n in neighbours], "meta": {"query": id, "by": by, "k": int(k), "more_data_available": False}},
        )

    return routes


def _json(neighbour: Neighbour) -> dict[str, Any]:
    """One neighbour as the extension lists it; ``method`` is the matched band structure's (null for structures)."""
    return {
        "id": neighbour.id,
        "entry_id": neighbour.entry_id,
        "material_id": neighbour.material_id,
        "formula": neighbour.formula or None,
        "method": neighbour.method,
        "distance": neighbour.distance,
    }


def _error(status: int, title: str, detail: str) -> JSONResponse:
    """A JSON:API error document, like the OPTIMADE endpoints return."""
    return JSONResponse({"errors": [{"status": str(status), "title": title, "detail": detail}]}, status_code=status)
