"""Read-only SQL for people: the core of ``atlas2d sql``.

The statement runs as the ``atlas2d_sql`` role (migration 0004), in a read-only transaction,
with a statement timeout, and its rows come through a server-side cursor a chunk at a time,
so ``limit`` bounds what the client holds however many rows the query returns. The role is
not the HTTP API's ``atlas2d_reader``: PostgreSQL lets a role end the sessions of its own
role only, so a user of ``atlas2d sql`` cannot ``pg_terminate_backend`` the API's sessions,
nor the API theirs. ``client_connection_check_interval`` makes the server notice a client
that went away during a long statement and cancel it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors
from sqlalchemy import make_url

from atlas2d.schema.database import database_url
from atlas2d.schema.settings import Settings

SQL_ROLE = "atlas2d_sql"
DEFAULT_TIMEOUT_S = 30.0
FETCH_ROWS = 2_000
"""Rows per FETCH from the server-side cursor."""

CONNECTION_CHECK_MS = 1_000
"""How often a running statement checks that its client is still connected."""


class QueryRefused(RuntimeError):
    """The statement was refused, failed or timed out; the message is one line for the user."""


@dataclass(frozen=True)
class QueryResult:
    """The first ``limit`` rows of a statement, and whether it had more."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    more: bool


def sql_url(settings: Settings) -> str:
    """The URL ``atlas2d sql`` connects with: ``settings.sql_url``, else the store's URL with user ``atlas2d_sql``."""
    if settings.sql_url:
        return settings.sql_url
    return make_url(database_url(settings)).set(username=SQL_ROLE, password=None).render_as_string(hide_password=False)


def run_readonly(query: str, *, url: str, limit: int, timeout_s: float = DEFAULT_TIMEOUT_S) -> QueryResult:
    """Run ``query`` read-only as ``atlas2d_sql``; at most ``limit`` rows are fetched (plus one, to know of more).

    ``timeout_s`` <= 0 means no statement timeout. A statement that fails raises ``QueryRefused``
    with a one-line message; a connection that cannot be made raises psycopg's error, which the
    command line describes like every other connection problem.
    """
    target = make_url(url).set(drivername="postgresql")
    options = f"-c statement_timeout={max(0, round(timeout_s * 1000))} -c client_connection_check_interval={CONNECTION_CHECK_MS}"
    try:
        with psycopg.connect(target.render_as_string(hide_password=False), options=options) as connection:
            connection.read_only = True
            try:
                return _streamed(connection, query, limit)
            except errors.SyntaxError:
                # DECLARE takes SELECT, VALUES, TABLE and WITH; other statements (SHOW, EXPLAIN)
                # return few rows and run on a plain cursor. A real syntax error fails there again.
                connection.rollback()
                return _plain(connection, query, limit)
    except errors.QueryCanceled as exc:
        if "statement timeout" in str(exc):
            raise QueryRefused(f"the statement ran longer than the {timeout_s:g} s timeout (--timeout) and was cancelled") from None
        raise QueryRefused(f"query refused: {_first_line(exc)}") from None
    except psycopg.OperationalError:
        raise  # the connection, not the statement: the caller describes it like any store error
    except psycopg.Error as exc:
        raise QueryRefused(f"query refused: {_first_line(exc)}") from None


def _streamed(connection: psycopg.Connection, query: str, limit: int) -> QueryResult:
    with connection.cursor(name="atlas2d_sql") as cursor:
        cursor.execute(query)  # no parameters: the text goes to the server as written
        columns = _columns(cursor.description)
        rows: list[tuple[Any, ...]] = []
        while len(rows) <= limit:
            chunk = cursor.fetchmany(min(FETCH_ROWS, limit + 1 - len(rows)))
            if not chunk:
                break
            rows.extend(chunk)
    return QueryResult(columns, rows[:limit], len(rows) > limit)


def _plain(connection: psycopg.Connection, query: str, limit: int) -> QueryResult:
    with connection.cursor() as cursor:
        cursor.execute(query)
        if cursor.description is None:
            raise QueryRefused("the statement returned no rows")
        rows = cursor.fetchmany(limit + 1)
        return QueryResult(_columns(cursor.description), rows[:limit], len(rows) > limit)


def _columns(description: Sequence[Any] | None) -> list[str]:
    return [column.name for column in description or ()]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
