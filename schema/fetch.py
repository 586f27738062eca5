"""Reading large array columns at driver speed.

SQLAlchemy's ARRAY type walks every element of a fetched array to apply its item type's
result processor. For float and text arrays that pass changes nothing (psycopg already
returns nested lists of floats and strings) but costs a Python call per inner list, which
dominates reads of many structures' site positions. Select such columns through
``fetched(column)`` on hot read paths; writes and filters keep the model's own type.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, TypeDecorator, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY


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
