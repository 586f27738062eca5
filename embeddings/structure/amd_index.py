"""The pgvector HNSW index on ``structure.amd``, and how the structure searches query it.

Dedup's candidate pairs, ``explain``'s near misses and ``similar_by_structure`` all ask
PostgreSQL for the nearest AMD vectors, ``ORDER BY amd <-> :vector``, which this index serves.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, text
from sqlalchemy.orm import Session

from atlas2d.schema.models import Structure

AMD_INDEX = next(index for index in Structure.__table__.indexes if index.name == "ix_structure_amd_hnsw")
"""The HNSW index on ``structure.amd`` as the model declares it (created if missing, e.g.
after a bulk run that was interrupted between dropping and building it)."""


def amd_distance(vector: Sequence[float]) -> ColumnElement[float]:
    """SQL for the Euclidean distance (Å) of ``structure.amd`` to ``vector``: ``amd <-> vector``."""
    return Structure.amd.l2_distance(list(map(float, vector)))


def widen_search(session: Session, width: int) -> None:
    """Make the HNSW scans of this transaction return ``width`` rows that pass the filters.

    Without iterative scans an HNSW index returns its ``ef_search`` nearest rows and only
    then applies the WHERE clause (same formula, other material), which can leave fewer
    than ``width`` rows; ``strict_order`` keeps scanning, in distance order.
    """
    session.execute(text(f"SET LOCAL hnsw.ef_search = {max(40, min(1000, 2 * width))}"))
    session.execute(text("SET LOCAL hnsw.iterative_scan = strict_order"))
