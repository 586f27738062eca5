"""An ``optimade`` entry collection answered by PostgreSQL.

The reference server's routers, query-parameter checks, response models and JSON:API error
handlers are reused as they are; only the collection behind them changes. A request reads
the store's version, then the counts (matching entries and all entries) unless they are
kept for that version (``atlas2d.api.optimade.counts``), then the page unless it lies past
the last match: statements over the ``Resource``'s selectable on one connection, with the
filter from ``atlas2d.api.optimade.filter`` (bound parameters only). A repeated filter costs
its page alone.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from typing import Any

from optimade.exceptions import BadRequest, NotFound, NotImplementedResponse
from optimade.models import EntryResource
from optimade.server.config import ServerConfig
from optimade.server.entry_collections import EntryCollection
from optimade.server.mappers import BaseResourceMapper
from optimade.server.query_params import EntryListingQueryParams, SingleEntryQueryParams
from optimade.warnings import QueryParamNotUsed
from sqlalchemy import ColumnElement, Connection, Engine, Select, Text, any_, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError

from atlas2d.api.optimade.bounded import BoundedCache
from atlas2d.api.optimade.compiled import CompiledStatements
from atlas2d.api.optimade.counts import CURRENT_VERSION, VERSION, CountCache
from atlas2d.api.optimade.fields import Kind, Resource
from atlas2d.api.optimade.filter import FilterError, UnsupportedFilter, filter_clause
from atlas2d.api.optimade.middleware import request_warnings

FILTER_CACHE_SIZE = 512
"""Translated filters each collection keeps (per worker process); the least recently used goes first."""

MAX_SKIP = 2**62
"""Entries a page may skip: larger offsets give the same (empty) page and would overflow ``bigint``."""


def page_statement(
    resource: Resource, columns: list[ColumnElement], condition: ColumnElement[bool], order: list[ColumnElement], limit: int, skip: int
) -> Select:
    """One page: the keys of its entries chosen first, then their columns.

    Choosing the keys needs only what the filter tests, which an index-only scan of
    ``ix_structure_filtered`` (entry order, 11 MB at 100,000 structures) reads without
    the 184 MB table; only the page's own rows are read from it. Selecting the columns
    in the same pass read the table row by row until the page was full, or to its end
    when few rows match (650 ms for ``_atlas2d_band_gap IS UNKNOWN`` at 100,000).
    ``correlate(None)``: the keys' statement reads the selectable on its own, not the outer row.
    """
    selectable = resource.selectable
    key = selectable.c[resource.order]
    keys = select(key).where(condition).order_by(*order, key).limit(limit).offset(skip).correlate(None)
    return select(*columns).where(key.in_(keys)).order_by(*order, key)


class PostgresCollection(EntryCollection):
    """One OPTIMADE entry type (structures, references, links) served from the store."""

    def __init__(
        self,
        resource: Resource,
        resource_cls: type[EntryResource],
        resource_mapper: BaseResourceMapper,
        config: ServerConfig,
        engine: Engine,
    ) -> None:
        super().__init__(resource_cls, resource_mapper, transformer=None, config=config)  # type: ignore[arg-type]
        self.resource = resource
        self.engine = engine
        self._statements = CompiledStatements(engine.dialect)
        self._available: ContextVar[int | None] = ContextVar(f"{resource.type}_available", default=None)
        self._translated: BoundedCache[ColumnElement[bool]] = BoundedCache(FILTER_CACHE_SIZE)
        self._counts = CountCache()

    def __len__(self) -> int:
        """All entries: the response's ``data_available``.

        The reference router asks for it right after ``find``, whose count statement has
        already counted them; that count is taken (once) instead of another round trip. The
        context variable is private to the request: each runs in its own copy of the context.
        """
        counted = self._available.get()
        if counted is None:
            return self.count(filter=true())
        self._available.set(None)
        return counted

    def insert(self, data: list[EntryResource | dict]) -> None:
        """The API is read-only: entries enter the store through ``atlas2d ingest``."""
        raise NotImplementedError("atlas2d's OPTIMADE collections are read-only; use the ingest pipeline")

    def count(self, **kwargs: Any) -> int:
        """How many entries match ``kwargs['filter']`` (a SQLAlchemy condition)."""
        statement = select(func.count()).select_from(self.resource.selectable).where(kwargs.get("filter", true()))
        return self._rows(statement)[0][0][0]

    def handle_query_params(self, params: EntryListingQueryParams | SingleEntryQueryParams) -> dict[str, Any]:
        """The reference server's parameter handling, with the filter compiled to SQL instead."""
        text = getattr(params, "filter", "") or ""
        unfiltered = copy.copy(params)
        unfiltered.filter = ""  # type: ignore[union-attr]
        criteria = super().handle_query_params(unfiltered)
        # page_number * page_limit can pass PostgreSQL's bigint; no store has that many rows to skip.
        criteria["skip"] = min(criteria.get("skip", 0) or 0, MAX_SKIP)
        criteria["filter"] = self._filter(text)
        criteria["count_key"] = text.strip()  # the counts' key: "" is every entry
        criteria["columns"] = self._columns(criteria["fields"])
        return criteria

    def find(self, params: EntryListingQueryParams | SingleEntryQueryParams) -> tuple:
        """As the base class, but an unknown single id is a 404 rather than ``data: null``."""
        found = super().find(params)
        if isinstance(params, SingleEntryQueryParams) and found[0] is None:
            raise NotFound(detail=f"no {self.resource.type} entry matches {params.filter}")  # type: ignore[attr-defined]
        return found

    def by_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        """The entries with these ids, in the collection's order, as ``find`` returns them for an
        empty ``response_fields`` (every stored field): what a response's ``included`` lists.

        One statement instead of ``find`` on the filter ``id="a" OR id="b"``, which the
        reference handler builds, parses and translates for every page; like that ``find``,
        it returns at most a default page of them. The statement is built once, the ids are
        its one array parameter (``= ANY``).
        """
        if not ids:
            return []
        names, statement = self._by_ids
        (rows,) = self._rows(statement, parameters={"ids": ids})
        return [self.resource_mapper.map_back(self._document(dict(zip(names, row, strict=True)))) for row in rows]

    @cached_property
    def _by_ids(self) -> tuple[list[str], Select]:
        """``by_ids``'s columns and statement, built once: only the ids change between pages."""
        selectable = self.resource.selectable
        names = self._columns(self.all_fields)
        statement = (
            select(*(selectable.c[name] for name in names))
            .where(selectable.c.id == any_(bindparam("ids", type_=ARRAY(Text))))
            .order_by(selectable.c[self.resource.order])
            .limit(self.config.page_limit)
        )
        return names, statement

    def _filter(self, text: str) -> ColumnElement[bool]:
        """``filter_clause`` of ``text``, kept for the next request with the same filter.

        Clients page through results and dashboards repeat their filters: parsing and
        translating one takes 1-3 ms of the request's CPU. The clause is immutable (statements
        are built around it, never into it), so requests share it. Errors are not kept, nor
        clauses whose translation warned (the warning belongs in every response), nor any
        translated outside a request (no warnings collector to tell).
        """
        if not text.strip():
            return true()
        clause = self._translated.get(text)
        if clause is not None:
            return clause
        warned = request_warnings()
        before = None if warned is None else len(warned)
        try:
            clause = filter_clause(text, self.resource)
        except UnsupportedFilter as exc:
            raise NotImplementedResponse(detail=str(exc)) from None
        except FilterError as exc:
            raise BadRequest(detail=str(exc)) from None
        if warned is not None and len(warned) == before:
            self._translated.put(text, clause)
        return clause

    def _run_db_query(self, criteria: dict[str, Any], single_entry: bool = False) -> tuple[list[dict[str, Any]], int, bool]:
        selectable = self.resource.selectable
        if criteria.get("page_above") is not None:
            warnings.warn("page_above is not supported; use page_offset or page_number", QueryParamNotUsed)
        columns = [selectable.c[name] for name in criteria["columns"]]
        order = [
            column.desc().nulls_last() if direction < 0 else column.asc().nulls_last()
            for column, direction in self._sort_columns(criteria.get("sort", ()))
        ]
        skip = criteria.get("skip", 0) or 0
        statement = page_statement(self.resource, columns, criteria["filter"], order, criteria["limit"], skip)
        with self._connection() as connection:
            data_returned, available = self._counted(connection, criteria["count_key"], criteria["filter"])
            # Past the last match the page is empty: no statement (a filter matching nothing had
            # to visit every row to say so, and its count already did).
            page = self._statements.rows(connection, statement) if skip < data_returned else []
        rows = [self._document(dict(zip(criteria["columns"], row, strict=True))) for row in page]
        self._available.set(available)
        return rows, data_returned, skip + len(rows) < data_returned and not single_entry

    def _counted(self, connection: Connection, key: str, condition: ColumnElement[bool]) -> tuple[int, int]:
        """Entries matching ``condition`` (the filter text ``key``) and all entries: kept counts
        of the store's current version, else counted now beside the version they belong to."""
        version = self._statements.rows(connection, CURRENT_VERSION)[0][0]
        kept = {name: self._counts.get(name, version) for name in (key, "")}
        missing = {name: where for name, where in ((key, condition), ("", true())) if kept[name] is None}
        if missing:
            selectable = self.resource.selectable
            counts = [select(func.count()).select_from(selectable).where(where).scalar_subquery() for where in missing.values()]
            counted_version, *values = self._statements.rows(connection, select(VERSION, *counts))[0]
            for name, value in zip(missing, values, strict=True):
                self._counts.put(name, counted_version, value)
                kept[name] = value
        return kept[key] or 0, kept[""] or 0

    def _columns(self, response_fields: set[str]) -> list[str]:
        """The selectable's columns that ``response_fields`` need (id and type always)."""
        names = {"id", "type"}
        if self.resource.type == "structures":
            names.add("source_name")
        for optimade_name in response_fields:
            field = self.resource.fields.get(optimade_name)
            if field is not None and field.kind is not Kind.ABSENT:
                names.add(field.name)
        if "species" in names:
            names.add("source_species")
        return sorted(names)

    def _sort_columns(self, sort: Any) -> list[tuple[ColumnElement, int]]:
        """Sort keys as columns; properties atlas2d never stores, and lists of objects (not sortable), are dropped."""
        columns = []
        for backend_name, direction in sort:
            field = self.resource.fields.get(self.resource_mapper.get_optimade_field(backend_name))
            if field is not None and field.kind not in (Kind.ABSENT, Kind.OBJECTS):
                columns.append((self.resource.selectable.c[field.name], direction))
        return columns

    def _document(self, row: dict[str, Any]) -> dict[str, Any]:
        """A row as the document ``map_back`` expects: species objects (the source's own where it gave
        them) and the source reference."""
        if self.resource.type != "structures":
            return row
        source = row.pop("source_name")
        source_species = row.pop("source_species", None)
        if source_species is not None:
            row["species"] = source_species
        elif row.get("species") is not None:
            row["species"] = [
                {"name": element, "chemical_symbols": [element], "concentration": [1.0]} for element in row["species"]
            ]
        row["relationships"] = {"references": {"data": [{"type": "references", "id": source}]}}
        return row

    def _rows(self, *statements: Any, parameters: dict[str, Any] | None = None) -> list[list[Any]]:
        """Run ``statements`` (with ``parameters`` for their unfilled bound parameters) on one connection
        and fetch all rows."""
        with self._connection() as connection:
            return [self._statements.rows(connection, statement, parameters) for statement in statements]

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A connection of the engine; a statement cancelled as too costly is a 400."""
        try:
            with self.engine.connect() as connection:
                yield connection
        except OperationalError as exc:
            if "statement timeout" in str(exc.orig):
                raise BadRequest(detail="the filter took too long to evaluate; make it more selective") from None
            raise
