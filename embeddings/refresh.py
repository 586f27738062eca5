"""One shape for keeping a stored vector column up to date: ``count_stale`` and ``refresh``.

Two columns hold vectors computed from other columns: the isometry invariants
``structure.amd`` / ``structure.pdd`` (``atlas2d.embeddings.structure.refresh``) and the
band fingerprints ``band_structure.fingerprint`` (``atlas2d.embeddings.bands.refresh``). A
row is stale when its vector is missing or was made by another definition (the invariants'
version, the fingerprint model's identifier). Both modules expose:

- ``count_stale(session, ...) -> Staleness``: how many rows ``refresh`` would compute, of
  how many (what a progress bar's total and a "nothing to do" message need);
- ``refresh(session, ..., batch_size=..., progress=None) -> int``: compute the stale rows,
  commit per batch (an interrupted run keeps its work and the next one continues), call
  ``progress(rows)`` after each batch, and return how many rows were written.

The ``...`` is what the column needs: the fingerprint model (its identifier for counting),
the device for the invariants, whose version is this code's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

Progress = Callable[[int], None]
"""Called after each committed batch with the number of rows it wrote (e.g. a progress bar's advance)."""


class Staleness(NamedTuple):
    """Rows needing a fresh vector, and rows in the table."""

    stale: int
    total: int
