"""``/v1/extensions/similar``: "materials like this one" over HTTP, beside the OPTIMADE API.

OPTIMADE leaves ``/extensions`` to providers. ``id`` is an OPTIMADE-style entry id
(``<source>/<source id>``, as in ``/v1/structures``; band-only entries such as generated
tight-binding models use the same form), ``by`` picks the similarity measure, and the answer
lists neighbours with their distances, nearest first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from atlas2d.schema.models import Entry, Source

MAX_K = 100
MAX_ID_LENGTH = 1_000
_DIGITS = re.compile(r"[0-9]{1,3}", re.ASCII)


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


class BadParameter(ValueError):
    """A query parameter of the extension is missing or malformed (HTTP 400)."""


@dataclass(frozen=True)
class SimilarQuery:
    """The extension's checked parameters: the entry (source and key), the measure and k."""

    source: str
    key: str
    by: str
    k: int


def parse_query(entry_id: str | None, by: str, k: str) -> SimilarQuery:
    """Check ``id``, ``by`` and ``k`` before anything reaches SQL; ``BadParameter`` says what is wrong.

    ``k`` takes the ASCII digits only: ``str.isdigit`` also accepts ``²`` and other digits
    that ``int`` refuses.
    """
    if not entry_id:
        raise BadParameter("the query parameter 'id' is required")
    if len(entry_id) > MAX_ID_LENGTH or not entry_id.isprintable():
        raise BadParameter(f"id must be <source>/<source id>, printable, at most {MAX_ID_LENGTH} characters, not {entry_id[:60]!r}")
    source, _, key = entry_id.partition("/")
    if by not in SEARCHES:
        raise BadParameter(f"unknown similarity {by[:60]!r}: use {', '.join(SEARCHES)}")
    if not _DIGITS.fullmatch(k) or not 1 <= int(k) <= MAX_K:
        raise BadParameter(f"k must be a whole number from 1 to {MAX_K}, not {k[:60]!r}")
    return SimilarQuery(source, key, by, int(k))


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
            entry_id = session.execute(
                select(Entry.id).join(Source).where(Source.name == query.source, Entry.source_key == query.key)
            ).scalar_one_or_none()
            if entry_id is None:
                return _error(404, "Not Found", f"no entry {id!r}")
            try:
                neighbours = SEARCHES[query.by](session, entry_id, query.k)
            except LookupError as exc:
                return _error(404, "Not Found", str(exc))
        return JSONResponse(
            {"data": neighbours, "meta": {"query": id, "by": query.by, "k": query.k, "more_data_available": False}},
        )

    return routes


def _error(status: int, title: str, detail: str) -> JSONResponse:
    """A JSON:API error document, like the OPTIMADE endpoints return."""
    return JSONResponse({"errors": [{"status": str(status), "title": title, "detail": detail}]}, status_code=status)
