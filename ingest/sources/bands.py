"""Read band structures in pymatgen's ``BandStructureSymmLine.as_dict()`` JSON layout.

This is the layout the Materials Project API and pymatgen users save line-mode band
structures in (``bs.as_dict()``, ``monty.serialization.dumpfn``): ``kpoints`` as fractional
reciprocal coordinates with the high-symmetry points repeated at segment ends,
``bands`` as {"1": [[E(band, k)]], "-1": …} in eV, ``efermi``, ``labels_dict`` and
``lattice_rec``. pymatgen itself parses the file, so the segment breaks are exactly the
``branches`` pymatgen derives; this module only turns them into ``Segment`` blocks and the
entry record, and sends anything it cannot read to ``Rejected`` with the reason.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ingest.band_records import BandDataError, BandRecord, Segment, validate_segments
from ingest.harmonize import formula_counts, reduced_formula
from ingest.records import Record, Rejected

PYMATGEN_CLASS = "BandStructureSymmLine"


def read_band_files(paths: list[Path], method: str) -> Iterator[BandRecord | Rejected]:
    """One ``BandRecord`` per readable file (key: the file name without ``.json``), else ``Rejected``."""
    for path in paths:
        text = path.read_text(errors="replace")
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Rejected(locator=path.name, reason=f"not JSON: {exc}", payload=text[:100_000])
            continue
        try:
            yield band_record(payload, key=path.name.removesuffix(".json"), method=method, file=path.name)
        except BandDataError as exc:
            yield Rejected(locator=path.name, reason=str(exc), payload=text[:100_000])


def band_record(payload: Any, key: str, method: str, file: str | None = None) -> BandRecord:
    """The ``BandRecord`` of one ``BandStructureSymmLine`` dict; raises ``BandDataError``."""
    if not isinstance(payload, dict):
        raise BandDataError("the file is not a JSON object")
    kind = payload.get("@class")
    if kind != PYMATGEN_CLASS:
        raise BandDataError(f"@class is {kind!r}, expected {PYMATGEN_CLASS!r} (a line-mode band structure)")
    missing = [k for k in ("kpoints", "bands", "efermi", "labels_dict", "lattice_rec") if k not in payload]
    if missing:
        raise BandDataError(f"missing keys: {', '.join(missing)}")
    bs = _parse(payload)
    segments = _segments(bs)
    validate_segments(segments)
    structure = bs.structure
    formula = reduced_formula(formula_counts(structure)) if structure is not None else ""
    entry = Record(source_key=key, chemical_formula_reduced=formula, raw=payload, structure=structure, locator=key)
    provenance = {"format": f"pymatgen {PYMATGEN_CLASS}.as_dict()", "file": file}
    if "constructed" in payload:
        provenance["constructed"] = payload["constructed"]
    return BandRecord(entry=entry, method=method, fermi_level=float(bs.efermi), segments=segments, provenance=provenance)


def _parse(payload: dict[str, Any]) -> Any:
    from pymatgen.electronic_structure.bandstructure import BandStructureSymmLine

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return BandStructureSymmLine.from_dict(payload)
    except Exception as exc:  # noqa: BLE001 - pymatgen raises many types on malformed input
        raise BandDataError(f"pymatgen cannot read it: {type(exc).__name__}: {str(exc)[:200]}") from exc


def _segments(bs: Any) -> list[Segment]:
    """Segments from pymatgen's branches; energies (spin, band, k) with spin up first."""
    from pymatgen.electronic_structure.core import Spin

    spins = [Spin.up, Spin.down] if bs.is_spin_polarized else [Spin.up]
    bands = np.stack([np.asarray(bs.bands[s], dtype=float) for s in spins])
    distance = np.asarray(bs.distance, dtype=float)
    segments = []
    for branch in bs.branches:
        lo, hi = branch["start_index"], branch["end_index"]
        if hi <= lo:
            raise BandDataError(f"branch {branch['name']} has fewer than two k-points")
        start = bs.kpoints[lo].label or "?"
        end = bs.kpoints[hi].label or "?"
        segments.append(
            Segment(start=start, end=end, distances=distance[lo : hi + 1] - distance[lo], energies=bands[:, :, lo : hi + 1])
        )
    return segments
