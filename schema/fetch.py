"""Reading large array columns at driver speed.

SQLAlchemy's ARRAY type walks every element of a fetched array to apply its item type's
result processor. For float and text arrays that pass changes nothing (psycopg already
returns nested lists of floats and strings) but costs a Python call per inner list, which
dominates reads of many structures' site positions. Select such columns through
``fetched(column)`` on hot read paths; writes and filters keep the model's own type.

psycopg itself parses the text form of a float array four times slower than its binary
form, so hot reads also ask for binary results (``BinaryCursor``, ``binary_results``).
Only columns whose types psycopg has binary loaders for may be read that way: pgvector's
``vector`` has none registered here and would come back as raw bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import ColumnElement, TypeDecorator, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


class FetchedArray(TypeDecorator):
    """An ARRAY whose fetched values are passed through as the driver returned them."""

    impl = ARRAY
    cache_ok = True

    def result_processor(self, dialect: Any, coltype: Any) -> None:
        return None


def fetched(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` (an ARRAY column) typed so that its values skip SQLAlchemy's per-item pass."""
    array = column.type
    return type_coerce(column, FetchedArray(array.item_type, dimensions=array.dimensions))


class BinaryCursor(psycopg.Cursor):
    """A cursor that asks PostgreSQL for its results in binary format."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.format = psycopg.pq.Format.BINARY


@contextmanager
def binary_results(session: Session) -> Iterator[None]:
    """Within the block, statements of ``session`` return binary results."""
    driver = session.connection().connection.driver_connection
    previous = driver.cursor_factory
    driver.cursor_factory = BinaryCursor
    try:
        yield
    finally:
        driver.cursor_factory = previous
