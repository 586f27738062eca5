"""``/v1/extensions/similar``: "materials like this one" over HTTP, beside the OPTIMADE API.

OPTIMADE leaves ``/extensions`` to providers. ``id`` is an OPTIMADE-style entry id
(``<source>/<source id>``, as in ``/v1/structures``; band-only entries such as generated
tight-binding models use the same form), ``by`` picks the similarity measure, and the answer
lists neighbours with their distances, nearest first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from atlas2d.schema.models import Entry, Source

MAX_K = 100


def _by_bands(session: Session, entry_id: int, k: int) -> list[dict[str, Any]]:
    from atlas2d.embeddings.bands.search import similar_by_bands

    return [
        {
            "id": f"{n.source}/{n.source_key}",
            "entry_id": n.entry_id,
            "formula": n.formula or None,
            "method": n.method,
            "distance": n.distance,
        }
        for n in similar_by_bands(session, entry_id, k)
    ]


def _by_structure(session: Session, entry_id: int, k: int) -> list[dict[str, Any]]:
    from atlas2d.embeddings.structure.dedup import similar_by_structure

    return [
        {
            "id": f"{n.source}/{n.source_key}",
            "entry_id": n.entry_id,
            "material_id": n.material_id,
            "formula": n.formula,
            "distance": n.distance,
        }
        for n in similar_by_structure(session, entry_id, k)
    ]


SEARCHES: dict[str, Callable[[Session, int, int], list[dict[str, Any]]]] = {"bands": _by_bands, "structures": _by_structure}
"""``by`` -> search(session, entry id, k) returning JSON-ready neighbours."""


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
        if by not in SEARCHES:
            return _error(400, "Bad Request", f"unknown similarity {by!r}: use {', '.join(SEARCHES)}")
        if not k.isdigit() or not 1 <= int(k) <= MAX_K:
            return _error(400, "Bad Request", f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
        source, _, key = id.partition("/")
        with Session(engine) as session:
            entry_id = session.execute(
                select(Entry.id).join(Source).where(Source.name == source, Entry.source_key == key)
            ).scalar_one_or_none()
            if entry_id is None:
                return _error(404, "Not Found", f"no entry {id!r}")
            try:
                neighbours = SEARCHES[by](session, entry_id, int(k))
            except LookupError as exc:
                return _error(404, "Not Found", str(exc))
        return JSONResponse(
            {"data": neighbours, "meta": {"query": id, "by": by, "k": int(k), "more_data_available": False}},
        )

    return routes


def _error(status: int, title: str, detail: str) -> JSONResponse:
    """A JSON:API error document, like the OPTIMADE endpoints return."""
    return JSONResponse({"errors": [{"status": str(status), "title": title, "detail": detail}]}, status_code=status)
