"""The OPTIMADE FastAPI application of atlas2d.

It is the ``optimade`` reference server's application (its routers, pydantic response models,
middleware and JSON:API error handlers, so the behaviour the validator checks is the
reference behaviour) with the MongoDB collections replaced by ``PostgresCollection``s that
read the store through the read-only ``atlas2d_reader`` role, the entry routes'
responses encoded in one pass (``atlas2d.api.optimade.routes``), and hostile requests
answered with 4xx, never a 500 or a dropped connection (``atlas2d.api.optimade.guard``).
"""

from __future__ import annotations

import select
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError

from atlas2d.api.optimade.fields import (
    LINK_RESOURCE,
    PROVIDER_FIELDS,
    PROVIDER_PREFIX,
    REFERENCE_RESOURCE,
    STRUCTURE_RESOURCE,
)

STATEMENT_TIMEOUT_MS = 10_000
"""A filter whose SQL runs longer than this is cancelled and answered with 400."""

PREPARE_THRESHOLD = 1
"""Runs of one statement text on a connection after which psycopg prepares it server-side."""

PAGE_LIMIT = 20
PAGE_LIMIT_MAX = 500

DEFAULT_LOG_DIR = Path(tempfile.gettempdir()) / "atlas2d-optimade-logs"
"""Where the reference server's logger writes unless ``atlas2d serve --log-dir`` says otherwise."""


def server_config(base_url: str | None = None, log_dir: Path = DEFAULT_LOG_DIR):  # noqa: ANN201 - optimade's ServerConfig
    """The ``ServerConfig`` that describes atlas2d: provider, implementation, provider fields."""
    from optimade.models import Implementation, Provider
    from optimade.server.config import ServerConfig

    return ServerConfig(
        insert_test_data=False,
        base_url=base_url,
        page_limit=PAGE_LIMIT,
        page_limit_max=PAGE_LIMIT_MAX,
        log_dir=log_dir,
        provider=Provider(
            prefix=PROVIDER_PREFIX,
            name="atlas2d",
            description="Harmonized, deduplicated 2D materials from C2DB, 2DMatPedia, MC2D and experiments",
            homepage="https://github.com/atlas2d/atlas2d",
        ),
        implementation=Implementation(
            name="atlas2d",
            version="0.1.0",
            source_url="https://github.com/atlas2d/atlas2d",
            maintainer={"email": "atlas2d@users.noreply.github.com"},
        ),
        provider_fields={"structures": [field.info() for field in PROVIDER_FIELDS]},
    )


HANDLER_THREADS = 2
"""Threads per server process that run request handlers; each reader engine pools as many connections.

Two rather than four: a handler holds Python's lock for most of its time, and under 32 clients
two threads per worker used about a tenth less CPU per request than four, in the server and
in PostgreSQL (fewer lock hand-overs, fewer backends), at the same requests per second. The
price: two filters that run to the statement timeout occupy a worker's handlers meanwhile."""


def reader_engine(
    database_url: str, *, readonly_url: str | None = None, binary_results: bool = False, autocommit: bool = False
) -> Engine:
    """An engine that connects as the read-only role, with a statement timeout per session.

    It connects with ``readonly_url`` when given (``ATLAS2D_READONLY_URL``), else with
    ``database_url`` as the ``atlas2d_reader`` role.

    Its connections prepare a statement on its second run (psycopg's default is the sixth):
    the API sends few shapes of statement, so most requests skip PostgreSQL's parsing of
    the long structures query. ``binary_results`` is for the OPTIMADE collections, whose
    column types all have binary loaders (``atlas2d.schema.fetch``): a page of 20 structures of the
    benchmark's set reads in 0.8 ms instead of 3.3 ms.

    ``autocommit`` is for statements that need no transaction (the OPTIMADE collections: one
    or two reads a request). Without a transaction there is no ``BEGIN`` before the first
    statement and no ``ROLLBACK`` when the connection goes back to the pool, and that
    ``ROLLBACK`` would also make psycopg drop the connection's prepared statements, so that
    every request prepared its statements anew. Not for code that needs ``SET LOCAL`` (the
    similarity search).

    A pooled connection is checked by ``_drop_if_closed`` when it is checked out, instead of
    SQLAlchemy's ``pool_pre_ping``, whose round trip per checkout cost a request about 0.5 ms
    of Python and a statement in PostgreSQL.
    """
    from atlas2d.schema.database import reader_url, sqlalchemy_url
    from atlas2d.schema.fetch import BinaryCursor

    engine = create_engine(
        sqlalchemy_url(readonly_url or reader_url(database_url)),
        pool_size=HANDLER_THREADS,
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: psycopg.Connection, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        dbapi_connection.commit()
        dbapi_connection.prepare_threshold = PREPARE_THRESHOLD
        if binary_results:
            dbapi_connection.cursor_factory = BinaryCursor

    event.listen(engine, "checkout", _drop_if_closed)
    return engine


def _drop_if_closed(dbapi_connection: psycopg.Connection, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has closed or is closing, without a round trip.

    An idle connection outside a transaction receives nothing unless the server ends it: a
    restart or ``pg_terminate_backend`` sends an error and closes the socket, which makes it
    readable. ``DisconnectionError`` makes the pool discard the connection and check out
    another (a new one when every pooled one is gone), so the request never sees it.
    """
    if dbapi_connection.closed or dbapi_connection.pgconn.status != psycopg.pq.ConnStatus.OK:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.pgconn.socket, select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the server sent data on an idle connection: it is closing it")


def create_app(
    database_url: str, base_url: str | None = None, *, readonly_url: str | None = None, log_dir: Path = DEFAULT_LOG_DIR
) -> FastAPI:
    """The OPTIMADE API over the store at ``database_url`` (connects as ``atlas2d_reader``, or with ``readonly_url``)."""
    from optimade.models import LinksResource, ReferenceResource, StructureResource
    from optimade.server.create_app import create_app as create_reference_app
    from optimade.server.mappers import LinksMapper, ReferenceMapper, StructureMapper

    from atlas2d.api.optimade import similar
    from atlas2d.api.optimade.collection import PostgresCollection
    from atlas2d.api.optimade.guard import harden
    from atlas2d.api.optimade.routes import serve_entries_first

    config = server_config(base_url, log_dir)
    app = create_reference_app(config, logger_tag="atlas2d")
    harden(app, logger_tag="atlas2d")
    app.title = "atlas2d OPTIMADE API"
    engine = reader_engine(database_url, readonly_url=readonly_url, binary_results=True, autocommit=True)
    app.state.entry_collections = {
        "structures": PostgresCollection(STRUCTURE_RESOURCE, StructureResource, StructureMapper(config), config, engine),
        "references": PostgresCollection(REFERENCE_RESOURCE, ReferenceResource, ReferenceMapper(config), config, engine),
        "links": PostgresCollection(LINK_RESOURCE, LinksResource, LinksMapper(config), config, engine),
    }
    serve_entries_first(app)
    app.include_router(similar.router(reader_engine(database_url, readonly_url=readonly_url)))
    return app
