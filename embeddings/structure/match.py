"""Find the stored structure a structure from elsewhere is: the dedup rule applied to one newcomer.

A band-structure file without an index row names no entry, only a structure (a vasprun.xml,
the POSCAR beside an EIGENVAL, a pw.x output). It belongs to a stored entry when their PDD
EMD is within the dedup tolerance (``candidates.DEFAULT_TOLERANCE``) and their reduced
formulas agree, as dedup would merge them; and only when the matches are one material
(before ``atlas2d dedup`` every entry is its own material, so two matching entries of one
monolayer are two candidates, and the file is not attached by guesswork).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pymatgen.core import Structure as PymatgenStructure
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.embeddings.structure.candidates import DEFAULT_TOLERANCE
from atlas2d.embeddings.structure.invariants import Motif, invariants_of_motifs, pdd_distances
from atlas2d.ingest.formulas import reduced_formula
from atlas2d.ingest.geometry import to_2d_convention
from atlas2d.ingest.records import HarmonizationError
from atlas2d.schema.models import Entry, Source, Structure


@dataclass(frozen=True)
class StructureMatch:
    """The entry a structure is, or why none is: ``note`` says either."""

    entry_id: int | None
    note: str
    distance: float | None = None


def match_stored(session: Session, structure: PymatgenStructure, tolerance: float = DEFAULT_TOLERANCE) -> StructureMatch:
    """The one stored entry ``structure`` is within ``tolerance`` (Å PDD EMD), or why there is none.

    Candidates are the stored structures of the same reduced formula; their invariants are
    computed here from the stored cells, so the match does not depend on dedup having run.
    Of several matching entries of one material the nearest is taken.
    """
    try:
        layer = to_2d_convention(structure)
    except (HarmonizationError, ValueError) as exc:
        return StructureMatch(None, f"the file's structure is not a monolayer atlas2d can compare: {exc}")
    formula = reduced_formula(layer.counts())
    rows = session.execute(
        select(Structure.entry_id, Structure.lattice_vectors, Structure.cartesian_site_positions, Structure.species_at_sites,
               Entry.material_id, Source.name, Entry.source_key)
        .join(Entry, Entry.id == Structure.entry_id)
        .join(Source, Source.id == Entry.source_id)
        .where(Structure.chemical_formula_reduced == formula)
        .order_by(Structure.entry_id)
    ).all()
    if not rows:
        return StructureMatch(None, f"no stored structure of formula {formula}")
    motifs = [Motif.from_arrays(layer.lattice, layer.positions, layer.species)]
    motifs += [Motif.from_arrays(r.lattice_vectors, r.cartesian_site_positions, r.species_at_sites) for r in rows]
    found = invariants_of_motifs(motifs)
    distances = pdd_distances([inv.pdd for inv in found], [(0, i) for i in range(1, len(found))])
    nearest = int(distances.argmin())
    within: dict[int | None, list[tuple[float, int]]] = defaultdict(list)
    for row, distance in zip(rows, distances, strict=True):
        if distance <= tolerance:
            within[row.material_id].append((float(distance), row.entry_id))
    rule = f"{tolerance:g} Å PDD EMD"
    if not within:
        near = rows[nearest]
        return StructureMatch(
            None,
            f"no stored structure within {rule} (nearest {formula}: entry {near.entry_id} {near.name}:{near.source_key} "
            f"at {distances[nearest]:.3f} Å)",
            float(distances[nearest]),
        )
    if len(within) > 1:
        entries = sorted(entry for matches in within.values() for _, entry in matches)
        return StructureMatch(
            None,
            f"{len(within)} stored materials match within {rule} (entries {', '.join(map(str, entries))}): "
            "run 'atlas2d dedup' to merge them, or name the entry in an index CSV",
        )
    distance, entry_id = min(next(iter(within.values())))
    row = next(r for r in rows if r.entry_id == entry_id)
    note = f"structure matched entry {entry_id} ({row.name}:{row.source_key}) at PDD EMD {distance:.4f} Å <= {tolerance:g} Å"
    return StructureMatch(entry_id, note, distance)
