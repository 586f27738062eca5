"""The one place the explorer asks for similar materials, by structure or by band fingerprint.

It goes through atlas2d's one search interface (``atlas2d.embeddings.search``), as the CLI
and ``/v1/extensions/similar`` do, and adds only what a page needs: where a neighbour links to.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from atlas2d.embeddings.neighbour import Neighbour
from atlas2d.embeddings.search import search_named


def nearest(session: Session, by: str, entry_id: int, k: int) -> list[Neighbour]:
    """The ``k`` nearest neighbours of entry ``entry_id`` by a registered search (``structure``:
    other materials by AMD; ``bands``: band structures by fingerprint). ``LookupError`` when the
    entry has nothing to compare (no invariants, no band structure, no fingerprint yet);
    ``ValueError`` for an unknown measure."""
    return search_named(by)(session, entry_id, k)

def href(neighbour: Neighbour) -> str:
    """Its material page, or its entry page when it belongs to no material (band-only models)."""
    return f"/materials/{neighbour.material_id}" if neighbour.material_id is not None else f"/entries/{neighbour.entry_id}"
