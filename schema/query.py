"""Read-only SQL from a user (``atlas2d sql``): run it in a read-only transaction, keep the first rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, StatementError


class QueryError(ValueError):
    """The user's statement was refused or failed; the message is the server's first line."""


@dataclass(frozen=True)
class QueryResult:
    """Column names and at most ``limit`` rows of a statement's result."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


def read_only_query(conn: Connection, statement: str, limit: int) -> QueryResult:
    """Run one statement in a READ ONLY transaction and return its first ``limit`` rows.

    The caller connects as ``atlas2d_reader``; the read-only transaction is a second fence,
    so a write fails even where the role was granted more than it should have been.
    A connection failure raises the database's error unchanged; a failure of the
    statement itself raises ``QueryError``.
    """
    conn.execute(text("SET TRANSACTION READ ONLY"))
    try:
        result = conn.execute(text(statement))
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        raise QueryError(_first_line(exc.orig or exc)) from exc
    except StatementError as exc:  # e.g. a :name that SQLAlchemy took for a bind parameter
        raise QueryError(_first_line(exc.orig or exc)) from exc
    if not result.returns_rows:
        raise QueryError("the statement returned no rows")
    return QueryResult(list(result.keys()), [tuple(r) for r in result.fetchmany(limit)])


def _first_line(exc: BaseException) -> str:
    message = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", str(exc)).strip()
    return message.splitlines()[0] if message else type(exc).__name__
