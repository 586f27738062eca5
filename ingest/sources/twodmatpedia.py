"""2DMatPedia (Zhou et al., Sci. Data 6, 86 (2019)) JSON lines, one material per line.

Published layout: ``material_id`` (``2dm-<n>``), ``formula_pretty``, ``structure`` (a pymatgen
``Structure.as_dict()``; the third lattice vector spans the vacuum), ``bandgap`` (eV, PBE),
``decomposition_energy``, ``exfoliation_energy_per_atom``, ``energy_per_atom`` (eV/atom),
``total_magnetization`` (μB), ``source_id`` and ``discovery_process``. Missing optional
fields are unknown, not zero.

The source key is ``material_id``; ``sg_number`` is kept as the record's space group. A
constructed line (one carrying ``base.CONSTRUCTED_MARK``, as an earlier atlas2d wrote before
real records were bundled) is refused by ``Adapter.checked``: it is not 2DMatPedia data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from atlas2d.ingest.geometry import layer_from_arrays
from atlas2d.ingest.harmonize import number, value
from atlas2d.ingest.records import HarmonizationError, Layer, Record, Rejected, SourceInfo
from atlas2d.ingest.sources.base import Adapter
from atlas2d.ingest.sources.common import attempt, structure_record

IDENTITY_FIELDS = frozenset(
    {"material_id", "structure", "formula_pretty", "formula_reduced_abc", "formula_anonymous", "elements", "nelements", "chemsys"}
)
"""Fields that make the entry itself (key, structure, formula) rather than a property."""

PROPERTIES: tuple[tuple[str, str, str], ...] = (
    ("bandgap", "band_gap", "PBE"),
    ("decomposition_energy", "decomposition_energy", "PBE"),
    ("exfoliation_energy_per_atom", "exfoliation_energy", "optB88-vdW"),
    ("energy_per_atom", "energy_per_atom", "PBE"),
    ("energy_vdw_per_atom", "energy_per_atom", "optB88-vdW"),
    ("energy", "total_energy", "PBE"),
    ("energy_vdw", "total_energy", "optB88-vdW"),
    ("total_magnetization", "magnetic_moment", "PBE"),
)
"""2DMatPedia field -> (atlas2d property, method)."""


def read(path: Path) -> Iterator[Record | Rejected]:
    """Every line of one JSON-lines file; a broken or constructed line is refused with a reason."""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            locator = f"{path.name}:{number}"
            yield attempt(locator, lambda line=line: line.rstrip("\n"), lambda line=line, locator=locator: _record(line, locator))


def _record(line: str, locator: str) -> Record:
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise HarmonizationError(f"not a JSON line (truncated?): {exc}") from exc
    if not isinstance(item, dict):
        raise HarmonizationError(f"a line is a JSON object, got {type(item).__name__}")
    values = [value(name, item.get(field), method, field) for field, name, method in PROPERTIES]
    record = structure_record(item.get("material_id"), _structure(item.get("structure")), item, values, locator, strict_json=True)
    space_group = number(item.get("sg_number"), "sg_number")
    record.space_group = int(space_group) if space_group is not None else None
    return record


def _structure(data: Any) -> Layer:
    """A pymatgen structure dict read directly (faster than ``Structure.from_dict``, stricter)."""
    if not isinstance(data, dict):
        raise HarmonizationError("structure is missing or not a pymatgen structure dict")
    sites = data.get("sites")
    if not isinstance(sites, list) or not sites:
        raise HarmonizationError("structure has no atoms")
    try:
        matrix = data["lattice"]["matrix"]
        coords = [site["abc"] for site in sites]
        species = [site["species"] for site in sites]
    except (KeyError, TypeError) as exc:
        raise HarmonizationError(f"structure dict is malformed: {type(exc).__name__} {exc}") from exc
    symbols = []
    for occupancy in species:
        if not isinstance(occupancy, list) or len(occupancy) != 1 or not isinstance(occupancy[0], dict):
            raise HarmonizationError("disordered or empty site: one element per site is required")
        if occupancy[0].get("occu", 1) != 1:
            raise HarmonizationError(f"partial occupancy {occupancy[0].get('occu')!r} of {occupancy[0].get('element')!r}")
        symbols.append(occupancy[0].get("element"))
    return layer_from_arrays(matrix, coords, symbols)


ADAPTER = Adapter(
    SourceInfo(
        name="2dmatpedia",
        title="2DMatPedia, an open computational database of two-dimensional materials",
        version="2019 release (JSON lines)",
        license="CC BY 4.0",
        url="http://www.2dmatpedia.org",
        citation="J. Zhou et al., Sci. Data 6, 86 (2019)",
    ),
    "2DMatPedia db.json lines (JSON lines, pymatgen structure dicts)",
    read,
    mapped_fields=IDENTITY_FIELDS | {"sg_number"} | {field for field, _, _ in PROPERTIES},
)
