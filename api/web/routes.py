"""The explorer's pages: search, material, entry, overview, and a material's downloads.

Query parameters are read as text and checked in ``search.parse_search`` (or here, for
ids), so bad input gets a page that says what is wrong with its status code: 400 for a
parameter that cannot be used or a malformed filter, 404 for an unknown id or a page past
the last one, 501 for a valid OPTIMADE filter that atlas2d does not implement.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from atlas2d.api.optimade.filter import FilterError, UnsupportedFilter
from atlas2d.api.web import downloads, queries
from atlas2d.api.web.neighbours import Neighbour, nearest
from atlas2d.api.web.pages import Pages
from atlas2d.api.web.search import PAGE_SIZES, RANGE_FIELDS, SearchError, parse_search

NEIGHBOURS = 10
"""Neighbours listed per measure on a material or entry page."""

MAX_ID = 2**31 - 1


def _id(text: str) -> int | None:
    """A row id from a path segment, or None when it cannot be one."""
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


def _neighbours(conn: Connection, by: str, entry_id: int) -> list[Neighbour] | str:
    """The neighbours, or the sentence that says why there are none."""
    try:
        with Session(bind=conn) as session:
            return nearest(session, by, entry_id, NEIGHBOURS)
    except LookupError as exc:
        return str(exc)


def router(pages: Pages) -> APIRouter:
    """The explorer's routes, reading through ``pages.engine``."""
    routes = APIRouter()

    @routes.get("/")
    def search(request: Request) -> Response:
        params = dict(request.query_params)
        base: dict[str, Any] = {"form": params, "range_fields": RANGE_FIELDS, "page_sizes": PAGE_SIZES}
        with pages.engine.connect() as conn:
            base["choices"] = queries.form_choices(conn)
            try:
                query = parse_search(params)
                result = queries.search_materials(conn, query)
            except SearchError as exc:
                return pages.render(request, "search.html", base | {"error": str(exc)}, 400)
            except UnsupportedFilter as exc:
                return pages.render(request, "search.html", base | {"error": f"filter: {exc}"}, 501)
            except FilterError as exc:
                return pages.render(request, "search.html", base | {"error": f"filter: {exc}"}, 400)
            except OperationalError as exc:
                if "statement timeout" not in str(exc.orig):
                    raise
                slow = "the search took too long; make the filter more selective"
                return pages.render(request, "search.html", base | {"error": slow}, 400)
        last = result.last_page(query.per_page)
        if query.page > last:
            past = f"page {query.page:,} is past the last page ({last:,}) of this search"
            return pages.render(request, "search.html", base | {"query": query, "result": result, "last_page": last, "error": past}, 404)
        return pages.render(request, "search.html", base | {"query": query, "result": result, "last_page": last})

    @routes.get("/overview")
    def overview(request: Request) -> Response:
        with pages.engine.connect() as conn:
            if pages.fingerprint_map is None or pages.fingerprint_map.signature != queries.map_signature(conn):
                pages.fingerprint_map = queries.fingerprint_map(conn)
            data = queries.overview(conn, pages.fingerprint_map)
        return pages.render(request, "overview.html", {"overview": data})

    @routes.get("/materials/{material_id}")
    def material(request: Request, material_id: str) -> Response:
        number = _id(material_id)
        with pages.engine.connect() as conn:
            detail = queries.material_detail(conn, number) if number is not None else None
            if detail is None:
                return _no_material(pages, request, material_id)
            with_structure = [s.entry_id for s in detail.structures]
            by_structure = _neighbours(conn, "structure", with_structure[0]) if with_structure else "no member entry has a structure"
            by_bands = {b.entry_id: _neighbours(conn, "bands", b.entry_id) for b in detail.bands if b.fingerprinted}
        return pages.render(
            request,
            "material.html",
            {
                "material": detail,
                "structures_json": [s.viewer_json() for s in detail.structures],
                "by_structure": by_structure,
                "by_bands": by_bands,
                "entries": {e.id: e for e in detail.entries},
            },
        )

    @routes.get("/materials/{material_id}/structure.{fmt}")
    def structure_download(request: Request, material_id: str, fmt: str) -> Response:
        number = _id(material_id)
        if fmt not in downloads.FORMATS:
            return pages.error(request, 404, "Unknown format", f"Structures download as {' or '.join(downloads.FORMATS)}, not {fmt!r}.")
        with pages.engine.connect() as conn:
            detail = queries.material_detail(conn, number) if number is not None else None
        if detail is None:
            return _no_material(pages, request, material_id)
        if not detail.structures:
            return pages.error(request, 404, "No structure", f"Material {detail.id} has no entry with a structure to download.")
        wanted = request.query_params.get("entry")
        chosen = detail.structures[0] if wanted is None else next((s for s in detail.structures if str(s.entry_id) == wanted), None)
        if chosen is None:
            return pages.error(request, 404, "No such entry", f"Entry {wanted!r} is not a member of material {detail.id} with a structure.")
        name = downloads.download_name(detail.id, detail.formula, fmt)
        return Response(
            downloads.structure_file(chosen, fmt),
            media_type=downloads.FORMATS[fmt],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @routes.get("/materials/{material_id}/material.jsonld")
    def jsonld_download(request: Request, material_id: str) -> Response:
        number = _id(material_id)
        with pages.engine.connect() as conn:
            entries = queries.material_documents_entries(conn, number) if number is not None else []
        if not entries:
            return _no_material(pages, request, material_id)
        document = downloads.material_jsonld(number, entries)  # type: ignore[arg-type]
        name = downloads.download_name(number, entries[0]["formula"], "jsonld")  # type: ignore[arg-type]
        return Response(
            orjson.dumps(document, option=orjson.OPT_INDENT_2),
            media_type="application/ld+json",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @routes.get("/entries/{entry_id}")
    def entry(request: Request, entry_id: str) -> Response:
        number = _id(entry_id)
        with pages.engine.connect() as conn:
            detail = queries.entry_detail(conn, number) if number is not None else None
            if detail is None:
                return pages.error(request, 404, "No such entry", f"There is no entry {entry_id!r} in this store.")
            by_bands = {b.entry_id: _neighbours(conn, "bands", b.entry_id) for b in detail.bands if b.fingerprinted}
        return pages.render(request, "entry.html", {"detail": detail, "by_bands": by_bands})

    @routes.get("/entries/{entry_id}/raw.json")
    def raw_download(request: Request, entry_id: str) -> Response:
        number = _id(entry_id)
        with pages.engine.connect() as conn:
            raw = queries.raw_record(conn, number) if number is not None else None
        if raw is None:
            return pages.error(request, 404, "No such entry", f"There is no entry {entry_id!r} in this store.")
        return Response(orjson.dumps(raw, option=orjson.OPT_INDENT_2), media_type="application/json")

    return routes


def _no_material(pages: Pages, request: Request, given: str) -> Response:
    return pages.error(
        request,
        404,
        "No such material",
        f"There is no material {given!r} in this store. Material ids are whole numbers; search for the material instead.",
    )
