"""Many 2DMatPedia records from the 1,000 real ones: the originals plus changed copies.

The scale benchmark needs a store of 10,000 to 100,000 structures that ingest, dedup and
the API treat like real data. Each copy is a real 2DMatPedia record (its structure's
geometry, its space group, its real band gap and energies) with three changes, so that the
copies are distinct materials as dedup sees them: its elements are replaced one-to-one by
others (the formula changes: dedup only merges structures of one formula), its in-plane
lattice is strained by up to ±3 %, and its key is new. One copy in twenty is instead a true
duplicate of the copy before it (the same cell with 0.01 Å of noise), so dedup has clusters
to find. Record ``i`` is always the same record: copy ``i // 1000`` of real record ``i % 1000``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from atlas2d.testdata import SHARED_DATA

TWODMATPEDIA = SHARED_DATA / "2dmatpedia" / "2dmatpedia_subset.jsonl"

ELEMENTS = (
    "H Li Be B C N O F Na Mg Al Si P S Cl K Ca Cu Zn Ga Ge As Se Br Rb Sr Y Zr Nb Mo Ru Rh Pd Ag Cd In Sn Sb Te I "
    "Cs Ba Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi"
).split()
"""Elements a copy may take: the real records' own (periods 1-4) and the heavier metals 2D materials are made of."""

DUPLICATE_EVERY = 20
"""Copy ``g`` with ``g % DUPLICATE_EVERY == 1`` is a noisy duplicate of copy ``g - 1``."""


@lru_cache(maxsize=1)
def real_records() -> tuple[dict[str, Any], ...]:
    """The 1,000 real 2DMatPedia records, parsed once."""
    with TWODMATPEDIA.open("rb") as handle:
        return tuple(orjson.loads(line) for line in handle if line.strip())


def scaled_record(index: int) -> dict[str, Any]:
    """Record ``index``: real record ``index % n`` itself (copy 0) or its changed copy ``index // n``."""
    records = real_records()
    base = records[index % len(records)]
    copy = index // len(records)
    if copy == 0:
        return base
    duplicate = copy % DUPLICATE_EVERY == 1
    changed = _changed(base, copy - 1 if duplicate else copy, index % len(records))
    if duplicate:
        changed = _jittered(changed, np.random.default_rng(index))
    changed["material_id"] = f"{base['material_id']}-copy{copy}"
    return changed


def _changed(base: dict[str, Any], copy: int, position: int) -> dict[str, Any]:
    """Copy ``copy`` of ``base`` (copy 0 is the original): new elements, strained in-plane lattice."""
    if copy == 0:
        return dict(base)
    rng = np.random.default_rng([copy, position])
    own = sorted({site["species"][0]["element"] for site in base["structure"]["sites"]})
    mapping = dict(zip(own, rng.choice(ELEMENTS, size=len(own), replace=False).tolist(), strict=True))
    strain = 1.0 + rng.uniform(-0.03, 0.03)
    structure = base["structure"]
    matrix = np.asarray(structure["lattice"]["matrix"], dtype=float)
    matrix[:2] *= strain
    sites = []
    for site in structure["sites"]:
        element = mapping[site["species"][0]["element"]]
        abc = site["abc"]
        sites.append(
            {
                "species": [{"element": element, "occu": 1}],
                "abc": abc,
                "xyz": (np.asarray(abc) @ matrix).tolist(),
                "label": element,
                "properties": {},
            }
        )
    changed = {k: v for k, v in base.items() if k not in ("formula_pretty", "formula_reduced_abc", "chemsys", "formula_anonymous")}
    changed["elements"] = sorted(mapping.values())
    changed["structure"] = {**structure, "lattice": {**structure["lattice"], "matrix": matrix.tolist()}, "sites": sites}
    return changed


def _jittered(record: dict[str, Any], rng: np.random.Generator, noise: float = 0.01) -> dict[str, Any]:
    """The same record with every atom moved by up to ``noise`` Å in each direction."""
    structure = record["structure"]
    matrix = np.asarray(structure["lattice"]["matrix"])
    inverse = np.linalg.inv(matrix)
    sites = []
    for site in structure["sites"]:
        xyz = np.asarray(site["xyz"]) + rng.uniform(-noise, noise, 3)
        sites.append({**site, "xyz": xyz.tolist(), "abc": (xyz @ inverse).tolist()})
    return {**record, "structure": {**structure, "sites": sites}}


def scaled_records(start: int, stop: int) -> Iterator[dict[str, Any]]:
    """Records ``start`` to ``stop - 1``."""
    return (scaled_record(i) for i in range(start, stop))


def write_jsonl(path: Path, start: int, stop: int) -> Path:
    """Records ``start`` to ``stop - 1`` as a 2DMatPedia JSON-lines file, ready for ``atlas2d ingest 2dmatpedia``."""
    with path.open("wb") as handle:
        for record in scaled_records(start, stop):
            handle.write(orjson.dumps(record) + b"\n")
    return path
