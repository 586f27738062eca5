"""SQLAlchemy statements run straight on the driver connection, compiled once per shape.

An OPTIMADE request runs two or three small statements. Through ``Connection.execute``
SQLAlchemy builds an execution context, a cursor result with its metadata and a row
object per row for each; on a page of 20 structures that took about 2.5 ms of the request's
CPU, more than psycopg's own work. Here a statement's cache key (the same key SQLAlchemy's
compiled cache uses: the statement's shape, its bound values extracted) finds the SQL text
compiled for that shape; the bound values of this statement go through the same bind
processors, psycopg runs it on the pooled connection (prepared, binary results as the
engine configures them), and the result processors SQLAlchemy would apply for the column
types are applied to the rows, which come back as tuples.

Statements this cannot run the same way go through SQLAlchemy as before: those without a
cache key, and those with parameters rendered at execution time (``IN`` lists, literal
limits). Driver errors are raised as SQLAlchemy raises them (``OperationalError`` for a
cancelled statement, …), so callers catch the same exceptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.cache_key import CacheKey

from atlas2d.api.optimade.bounded import BoundedCache

CACHE_SIZE = 1024
"""Compiled shapes kept per collection (the filters, fields and pages clients use); the least recently used goes first."""

_UNSEEN = object()
"""What the cache gives for a shape not compiled yet (a kept None means: SQLAlchemy runs it)."""


@dataclass
class _Compiled:
    """One statement shape: its SQL text, how to bind its values, and how to process its rows."""

    compiled: Any
    sql: str
    bind_processors: dict[str, Callable[[Any], Any]]
    result_processors: list[Callable[[Any], Any] | None] | None = None
    """Found on the first run, from the column types and the driver's type codes, as SQLAlchemy does."""


class CompiledStatements:
    """Runs select statements of one dialect on driver connections, with their compiled forms cached."""

    def __init__(self, dialect: Dialect, size: int = CACHE_SIZE) -> None:
        self.dialect = dialect
        self._cache: BoundedCache[_Compiled | None] = BoundedCache(size)

    def rows(self, connection: Connection, statement: Executable, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """All rows of ``statement`` on ``connection``, as tuples processed as SQLAlchemy would.

        ``parameters`` gives values to bound parameters by name (those built without one), so
        that a statement built once can run with other values: its cache key is computed once.
        """
        key = statement._generate_cache_key()  # noqa: SLF001 - the key SQLAlchemy's own compiled cache uses
        shape = self._shape(statement, key) if key is not None else None
        if shape is None:
            return [tuple(row) for row in connection.execute(statement, parameters).all()]
        parameters = shape.compiled.construct_params(parameters, extracted_parameters=key.bindparams, escape_names=False)
        for name, process in shape.bind_processors.items():
            if name in parameters:
                parameters[name] = process(parameters[name])
        if shape.compiled.escaped_bind_names:
            parameters = {shape.compiled.escaped_bind_names.get(name, name): value for name, value in parameters.items()}
        driver = connection.connection.driver_connection
        try:
            with driver.cursor() as cursor:
                cursor.execute(shape.sql, parameters)
                found = cursor.fetchall()
                if shape.result_processors is None:
                    shape.result_processors = self._result_processors(shape, cursor)
        except psycopg.Error as exc:
            raise DBAPIError.instance(shape.sql, parameters, exc, psycopg.Error) from exc
        processors = [(i, p) for i, p in enumerate(shape.result_processors) if p is not None]
        if not processors:
            return found
        rows = []
        for row in found:
            values = list(row)
            for i, process in processors:
                values[i] = process(values[i])
            rows.append(tuple(values))
        return rows

    def _shape(self, statement: Executable, key: CacheKey) -> _Compiled | None:
        """The compiled form of ``statement``'s shape; None for statements SQLAlchemy must run itself.

        Compiled with its cache key, as SQLAlchemy's cache compiles, so that the bound values
        of later statements of the shape can replace this one's.
        """
        kept = self._cache.get(key.key, _UNSEEN)
        if kept is not _UNSEEN:
            return kept
        compiled = self.dialect.statement_compiler(self.dialect, statement, cache_key=key)
        runnable = not (compiled.literal_execute_params or compiled.post_compile_params)
        shape = _Compiled(compiled, compiled.string, dict(compiled._bind_processors)) if runnable else None  # noqa: SLF001
        self._cache.put(key.key, shape)
        return shape

    def _result_processors(self, shape: _Compiled, cursor: psycopg.Cursor) -> list[Callable[[Any], Any] | None]:
        """Each result column's processor, from its SQLAlchemy type and the driver's type code."""
        columns = shape.compiled._result_columns  # noqa: SLF001 - the typed columns SQLAlchemy's result metadata reads
        codes = [column.type_code for column in cursor.description or ()]
        if len(columns) != len(codes):
            raise RuntimeError(f"the statement returned {len(codes)} columns, {len(columns)} were compiled")
        return [column.type._cached_result_processor(self.dialect, code) for column, code in zip(columns, codes, strict=True)]  # noqa: SLF001
