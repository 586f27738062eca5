"""``/v1/extensions/similar``: "materials like this one" over HTTP, beside the OPTIMADE API.

OPTIMADE leaves ``/extensions`` to providers. ``id`` is an OPTIMADE-style entry id
(``<source>/<source id>``, as in ``/v1/structures``; band-only entries such as generated
tight-binding models use the same form; an entry id or a unique source key also work),
``by`` picks one of the searches registered in ``atlas2d.embeddings.search``, and the
answer lists neighbours with their distances, nearest first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from atlas2d.embeddings.neighbour import Neighbour, Search
from atlas2d.embeddings.search import SEARCHES, resolve, search_named

MAX_K = 100
MAX_ID_LENGTH = 1_000
_DIGITS = re.compile(r"[0-9]{1,3}", re.ASCII)


class BadParameter(ValueError):
    """A query parameter of the extension is missing or malformed (HTTP 400)."""


@dataclass(frozen=True)
class SimilarQuery:
    """The extension's checked parameters: the entry reference, the search and k."""

    ref: str
    by: str
    search: Search
    k: int


def parse_query(entry_id: str | None, by: str, k: str) -> SimilarQuery:
    """Check ``id``, ``by`` and ``k`` before anything reaches SQL; ``BadParameter`` says what is wrong.

    Checked here rather than by FastAPI, whose validation errors the OPTIMADE app would answer
    with 500. ``k`` takes the ASCII digits only: ``str.isdigit`` also accepts ``²`` and other
    digits that ``int`` refuses.
    """
    if not entry_id:
        raise BadParameter("the query parameter 'id' is required")
    if len(entry_id) > MAX_ID_LENGTH or not entry_id.isprintable():
        raise BadParameter(f"id must be <source>/<source id>, printable, at most {MAX_ID_LENGTH} characters, not {entry_id[:60]!r}")
    try:
        search = search_named(by)
    except ValueError as exc:
        raise BadParameter(str(exc)[:300]) from exc
    if not _DIGITS.fullmatch(k) or not 1 <= int(k) <= MAX_K:
        raise BadParameter(f"k must be a whole number from 1 to {MAX_K}, not {k[:60]!r}")
    return SimilarQuery(entry_id, by, search, int(k))


def router(engine: Engine) -> APIRouter:
    """The extension's routes, reading through ``engine`` (the read-only role)."""
    routes = APIRouter()

    @routes.get("/v1/extensions/similar", tags=["Extensions"])
    def similar(
        id: Annotated[str | None, Query(description="Entry id, <source>/<source id>.")] = None,  # noqa: A002 - OPTIMADE's name
        by: Annotated[str, Query(description=f"Similarity measure: {', '.join(SEARCHES)}.")] = "bands",
        k: Annotated[str, Query(description=f"How many neighbours, 1 to {MAX_K}.")] = "10",
    ) -> JSONResponse:
        try:
            query = parse_query(id, by, k)
        except BadParameter as exc:
            return _error(400, "Bad Request", str(exc))
        with Session(engine) as session:
            try:
                neighbours = query.search(session, resolve(session, query.ref), query.k)
            except LookupError as exc:
                return _error(404, "Not Found", str(exc))
        return JSONResponse(
            {"data": [_json(n) for n in neighbours], "meta": {"query": id, "by": query.by, "k": query.k, "more_data_available": False}},
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
