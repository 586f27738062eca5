"""The current MC2D list ("campi-v2" ``structure_2d.json``, Campi et al., ACS Nano 17, 11268 (2023)).

A JSON list, one 2D crystal per entry, without structures (only AiiDA UUIDs of them):
``formula`` (the full formula of the 2D cell), ``prototype``, ``space_group_number``,
``band_gap`` {``value`` eV, PBE, spin-unpolarised, from the band structure along a
high-symmetry path} and ``all_3D_parents`` with binding energies ``binding_energy_df2`` and
``binding_energy_rvv10`` {``value``} in **eV/Å²** (MC2D v4 writes meV/Å²; the vocabulary
stores meV/Å²). A monolayer can have several parents; the lowest binding energy (the most
easily exfoliated parent) is the material's, with that parent named in the conditions.

The source key is ``as_extracted_2D_structure_uuid`` (every entry has one; the optimized
structure's uuid is missing for the entries that were not relaxed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from atlas2d.ingest.formulas import parse_formula, reduced_formula
from atlas2d.ingest.harmonize import number, value
from atlas2d.ingest.records import HarmonizationError, Record, Rejected, Value
from atlas2d.ingest.sources.common import check_storable, read_json_array, required_text

FORMAT = "MC2D campi-v2 structure_2d.json"

KEY = "as_extracted_2D_structure_uuid"

IDENTITY_FIELDS = frozenset({KEY, "formula", "prototype", "space_group_number"})
"""Fields that make the entry itself (key, formula, linking keys) rather than a property."""

MAPPED_FIELDS = IDENTITY_FIELDS | {"band_gap", "all_3D_parents"}
"""The fields this reader uses."""

BINDING_UNIT = "eV/Å^2"


def looks_like(head: str) -> bool:
    """Whether a file's first characters are a campi-v2 list."""
    return head.lstrip().startswith("[") and f'"{KEY}"' in head and '"space_group_number"' in head and '"cell"' not in head


def read(path: Path) -> Iterator[Record | Rejected]:
    """Every entry; a damaged tail is quarantined, the rest ingested."""
    return read_json_array(path, _record)


def _record(item: Any, locator: str) -> Record:
    if not isinstance(item, dict):
        raise HarmonizationError(f"an entry is an object, got {type(item).__name__}")
    key = required_text(item, KEY)
    formula = required_text(item, "formula")
    gap = item.get("band_gap")
    values: list[Value | None] = [value("band_gap", inner_value(gap, "band_gap"), "PBE", "band_gap.value")]
    values += binding_energies(item.get("all_3D_parents"))
    check_storable(item)
    space_group = number(item.get("space_group_number"), "space_group_number")
    return Record(
        source_key=key,
        chemical_formula_reduced=reduced_formula(parse_formula(formula)),
        raw=item,
        values=[v for v in values if v is not None],
        locator=locator,
        prototype=item.get("prototype") or None,
        space_group=int(space_group) if space_group is not None else None,
    )


def binding_energies(parents: object) -> list[Value | None]:
    """The lowest vdW-DF2 and rVV10 binding energies over the 3D parents, each naming its parent."""
    if parents is None:
        return []
    if not isinstance(parents, list):
        raise HarmonizationError("all_3D_parents is not a list")
    result: list[Value | None] = []
    for field, method in (("binding_energy_df2", "vdW-DF2"), ("binding_energy_rvv10", "rVV10")):
        candidates = []
        for parent in parents:
            if not isinstance(parent, dict):
                raise HarmonizationError("a 3D parent is not an object")
            amount = number(inner_value(parent.get(field), field), field)
            if amount is not None:
                candidates.append((amount, f"{parent.get('source_db')}:{parent.get('source_db_id') or parent.get('db_id')}"))
        if candidates:
            amount, parent_id = min(candidates)
            source_field = f"all_3D_parents[].{field}.value"
            result.append(value("binding_energy", amount, method, source_field, unit=BINDING_UNIT, conditions={"parent": parent_id}))
    return result


def inner_value(field: object, name: str) -> object:
    """MC2D's ``{"uuid": …, "value": x}`` wrapper as ``x`` (``None`` when absent)."""
    if field is None:
        return None
    if not isinstance(field, dict):
        raise HarmonizationError(f"{name} is not a {{value, uuid}} object")
    return field.get("value")
