"""The one place the explorer asks for similar materials, by structure or by band fingerprint.

``nearest`` is the only caller of the two search functions in this package, so pointing the
explorer at another search interface means changing this module alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.schema.models import Entry

MEASURES = ("structure", "bands")


@dataclass(frozen=True)
class Neighbour:
    """A nearby entry: where it lives, what it is, how far (Å for structure, fingerprint L2 for bands)."""

    entry_id: int
    material_id: int | None
    source: str
    source_key: str
    formula: str
    distance: float
    method: str | None = None

    @property
    def href(self) -> str:
        """Its material page, or its entry page when it belongs to no material (band-only models)."""
        return f"/materials/{self.material_id}" if self.material_id is not None else f"/entries/{self.entry_id}"


def nearest(session: Session, by: str, entry_id: int, k: int) -> list[Neighbour]:
    """The ``k`` nearest neighbours of entry ``entry_id`` by ``structure`` (other materials by AMD)
    or ``bands`` (band structures by fingerprint); ``LookupError`` when the entry has nothing
    to compare (no invariants, no band structure, no fingerprint yet)."""
    if by == "structure":
        from atlas2d.embeddings.structure.dedup import similar_by_structure

        return [
            Neighbour(n.entry_id, n.material_id, n.source, n.source_key, n.formula, n.distance)
            for n in similar_by_structure(session, entry_id, k)
        ]
    if by == "bands":
        from atlas2d.embeddings.bands.search import similar_by_bands

        found = similar_by_bands(session, entry_id, k)
        materials = dict(session.execute(select(Entry.id, Entry.material_id).where(Entry.id.in_([n.entry_id for n in found]))).all())
        return [
            Neighbour(n.entry_id, materials.get(n.entry_id), n.source, n.source_key, n.formula, n.distance, n.method) for n in found
        ]
    raise ValueError(f"unknown similarity {by!r}: use {' or '.join(MEASURES)}")
