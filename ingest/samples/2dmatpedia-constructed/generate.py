"""Build the CONSTRUCTED 2DMatPedia-layout sample from real poscar2d structures.

No real 2DMatPedia record is available to atlas2d (see PROVENANCE.md here), so this script
writes real monolayer structures from the poscar2d archive in 2DMatPedia's published JSON-
lines layout. Every line carries ``_atlas2d_constructed`` and an id ``constructed-<n>``; it
has no properties, because none are known for these structures. atlas2d ingests the file
only as the source ``2dmatpedia-constructed``.

Deterministic: members in name order, every ``STRIDE``-th small cell, plus the smallest
cell of each formula in the experimental sample (so measured values have a structure to
meet). Run from the repository root:

    python ingest/samples/2dmatpedia-constructed/generate.py ../shared/data/poscar2d/poscar2d_structures.tar.gz
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

from pymatgen.core import Structure

OUTPUT = Path(__file__).with_name("2dmatpedia_constructed.jsonl")
MAX_SITES = 24
STRIDE = 12
EXPERIMENTAL_FORMULAS = ("MoS2", "WS2", "MoSe2", "WSe2", "BN", "C", "P", "CrI3")
MARK = "built by atlas2d from a real poscar2d POSCAR structure; NOT a 2DMatPedia record; no properties"


def main(archive_path: str) -> None:
    """Write ``OUTPUT`` from the poscar2d archive at ``archive_path``."""
    cells: list[tuple[str, Structure]] = []
    with tarfile.open(archive_path) as archive:
        for member in sorted((m for m in archive.getmembers() if m.isfile()), key=lambda m: m.name):
            handle = archive.extractfile(member)
            assert handle is not None
            cells.append((Path(member.name).name, Structure.from_str(handle.read().decode(), fmt="poscar")))
    small = [(name, s) for name, s in cells if len(s) <= MAX_SITES]
    chosen = dict(small[::STRIDE])
    for formula in EXPERIMENTAL_FORMULAS:
        matches = [(len(s), name, s) for name, s in cells if s.composition.reduced_formula == formula]
        if matches:
            _, name, structure = min(matches, key=lambda m: (m[0], m[1]))
            chosen[name] = structure
    with OUTPUT.open("w") as out:
        for n, name in enumerate(sorted(chosen), start=1):
            structure = chosen[name]
            line = {
                "material_id": f"constructed-{n:04d}",
                "formula_pretty": structure.composition.reduced_formula,
                "structure": structure.as_dict(),
                "source_id": f"poscar2d:{name}",
                "_atlas2d_constructed": MARK,
            }
            out.write(json.dumps(line, sort_keys=True) + "\n")
    print(f"wrote {len(chosen)} constructed records to {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv[1])
