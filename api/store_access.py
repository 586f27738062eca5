"""How a command reaches the store: one context manager, one-line errors with a hint.

Every command that touches the store runs inside ``open_store``. A database problem (no
server, a bad URL, a store that was never initialised, a missing permission) then ends the
command with exit status 1 and one line saying what is wrong and what to do about it,
never a traceback; the rules live here once instead of in each command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import typer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from atlas2d.api.console import fail
from atlas2d.schema.database import READER_ROLE, DatabaseError, database_url, make_engine, readonly_url, shown_url
from atlas2d.schema.settings import Settings

INIT_HINT = "run 'atlas2d init'"


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the ``atlas2d`` callback built from the options and the environment."""
    settings = ctx.find_object(Settings)
    if settings is None:
        raise RuntimeError("no Settings in the click context: commands run under atlas2d.api.cli.app")
    return settings


@contextmanager
def open_store(settings: Settings, *, readonly: bool = False) -> Iterator[Session]:
    """A session on the store (as ``atlas2d_reader`` when ``readonly``), closed and disposed on exit.

    Database errors raised while opening it or inside the ``with`` block end the command
    with one line and a hint (``store_errors``). Work that needs the engine itself (a
    migration, the threaded ingest writer) takes ``session.get_bind()``.
    """
    with store_errors(settings, readonly=readonly):
        url = readonly_url(settings) if readonly else database_url(settings)
        engine = make_engine(url)
        with engine.connect():  # fail here, before a command prints a progress bar, when the store is out of reach
            pass
        try:
            with Session(engine) as session:
                yield session
        finally:
            engine.dispose()


@contextmanager
def store_errors(settings: Settings, *, readonly: bool = False) -> Iterator[None]:
    """Turn database errors raised in the block into ``fail`` with ``describe_database_error``."""
    try:
        yield
    except (DatabaseError, DBAPIError, psycopg.Error) as exc:
        fail(describe_database_error(exc, settings, readonly=readonly))


def describe_database_error(exc: BaseException, settings: Settings, *, readonly: bool = False) -> str:
    """One line for the user: what went wrong with the store, then what to do about it."""
    variable = _variable(settings, readonly)
    if isinstance(exc, DatabaseError):
        if settings.database_url is None and "embedded" in str(exc):
            return f"{exc}; set ATLAS2D_DATA_DIR (--data-dir) to a writable folder, or ATLAS2D_DATABASE_URL to a server"
        return f"{exc}; check {variable}"
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    reason = _first_line(orig)
    where = _where(settings, readonly)
    state = getattr(orig, "sqlstate", None)
    if state in {"42P01", "3F000"}:
        return f"the store {where} is not initialised ({reason}); {INIT_HINT}"
    if state == "42703":
        return f"the store {where} has an older schema than this atlas2d ({reason}); {INIT_HINT} to migrate it"
    if state == "42501":
        return f"permission denied on the store {where} ({reason}); connect as its owner ({variable}), or {INIT_HINT} as the owner"
    if state == "0A000" and "vector" in reason:
        return f"{reason}: the server needs the pgvector extension; or unset ATLAS2D_DATABASE_URL to use the embedded server"
    if state is None and isinstance(orig, psycopg.OperationalError):
        return _connection_problem(reason, where, variable)
    return f"database error on the store {where}: {reason}"


def _connection_problem(reason: str, where: str, variable: str) -> str:
    """Connection failures carry no SQLSTATE in psycopg; the server's message tells them apart."""
    reason = re.sub(r"^connection (failed|is bad): ", "", reason)
    detail = reason.rsplit("FATAL:", 1)[-1].strip()
    if f'role "{READER_ROLE}" does not exist' in reason:
        return f"the store {where} is not initialised (no atlas2d_reader role); {INIT_HINT}"
    if re.search(r'database ".*" does not exist', reason):
        return f"cannot open the store {where}: {detail}; create the database, or point {variable} at another"
    if re.search(r'role ".*" does not exist|password authentication failed|no password supplied', reason):
        if READER_ROLE in reason and "READONLY" not in variable:
            variable = "ATLAS2D_READONLY_URL (--readonly-url), the reader role's URL with its password"
        return f"cannot log in to the store {where}: {detail}; check the user and password in {variable}"
    return f"cannot connect to the store {where}: {reason}; is the server running? check {variable}"


def _variable(settings: Settings, readonly: bool) -> str:
    """The setting that named the URL that failed, as the user wrote it."""
    if readonly and settings.readonly_url:
        return "ATLAS2D_READONLY_URL (--readonly-url)"
    if settings.database_url:
        return "ATLAS2D_DATABASE_URL (--database-url)"
    return "ATLAS2D_DATA_DIR (--data-dir)"


def _where(settings: Settings, readonly: bool) -> str:
    if readonly and settings.readonly_url:
        return f"at {shown_url(settings.readonly_url)}"
    if settings.database_url:
        return f"at {shown_url(settings.database_url)}"
    return f"in {settings.data_dir}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
