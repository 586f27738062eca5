"""The Materials Cloud Discover data file of MC2D (``{"compounds": [...], "observables": {...}}``).

Per compound: ``formula``, ``space_group`` (a Hermann-Mauguin symbol), ``point_group``,
``band_gap`` {``value`` eV, PBE}, ``fermi_energy`` (eV), ``magnetic_state``,
``total_magnetization`` {``value`` μB/cell}, ``binding_energy_per_substructure_per_unit_area_df2``
{``value`` **eV/Å²**} and ``all_3D_parents``; no structures, only AiiDA UUIDs. The
``observables`` block states those units; it is checked, so a file in other units is refused
rather than misread. The source key is the ``structure_2D`` uuid.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from atlas2d.ingest.formulas import parse_formula, reduced_formula
from atlas2d.ingest.harmonize import value
from atlas2d.ingest.records import HarmonizationError, Record, Rejected, Value
from atlas2d.ingest.sources.common import JSON_ERROR_CONTEXT, attempt, check_storable, dumps, read_text, required_text
from atlas2d.ingest.sources.mc2d_campi import BINDING_UNIT, inner_value

FORMAT = "MC2D Discover compounds JSON"

KEY = "structure_2D"

IDENTITY_FIELDS = frozenset({KEY, "formula", "species", "n_atoms", "n_species", "space_group"})
"""Fields that make the entry itself (key, formula, linking keys) rather than a property."""

MAPPED_FIELDS = IDENTITY_FIELDS | {
    "band_gap",
    "fermi_energy",
    "magnetic_state",
    "total_magnetization",
    "binding_energy_per_substructure_per_unit_area_df2",
}
"""The fields this reader uses."""

EXPECTED_UNITS = {"band_gap": "eV", "fermi_energy": "eV", "binding_energy_per_substructure_per_unit_area_df2": "eV$/\\AA^2$"}
"""Observable -> the unit string the Discover file must state for it."""

def looks_like(head: str) -> bool:
    """Whether a file's first characters are a Discover compounds file."""
    return head.lstrip().startswith("{") and '"compounds"' in head


def read(path: Path) -> Iterator[Record | Rejected]:
    """Every compound; a file that is not a Discover document is one ``Rejected``."""
    text = read_text(path)
    try:
        document = _parse(text)
        if not isinstance(document, dict) or not isinstance(document.get("compounds"), list):
            raise ValueError("a Discover file is an object with a 'compounds' list")
        _check_units(document.get("observables") or {})
    except Exception as exc:  # noqa: BLE001 - whatever a hostile file raises becomes the quarantine reason
        reason = f"unreadable Discover file: {type(exc).__name__}: {exc}"
        yield Rejected(locator=path.name, reason=reason, payload=text[:JSON_ERROR_CONTEXT])
        return
    for index, item in enumerate(document["compounds"]):
        locator = f"{path.name}[{index}]"
        yield attempt(locator, lambda item=item: dumps(item), lambda item=item, locator=locator: _record(item, locator))


def _parse(text: str) -> Any:
    """The document, by orjson; by the standard library when orjson refuses it, which reads what
    one damaged compound may hold (NaN, a lone surrogate) so that only that compound is quarantined."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _check_units(observables: object) -> None:
    if not isinstance(observables, dict):
        raise ValueError(f"observables is a {type(observables).__name__}, not an object")
    for name, unit in EXPECTED_UNITS.items():
        observable = observables.get(name) or {}
        if not isinstance(observable, dict):
            raise ValueError(f"observable {name} is a {type(observable).__name__}, not an object")
        stated = observable.get("units")
        if stated is not None and stated != unit:
            raise ValueError(f"observable {name} is in {stated!r}, expected {unit!r}")


def _record(item: Any, locator: str) -> Record:
    if not isinstance(item, dict):
        raise HarmonizationError(f"a compound is an object, got {type(item).__name__}")
    key = required_text(item, KEY)
    formula = required_text(item, "formula")
    values: list[Value | None] = [
        value("band_gap", inner_value(item.get("band_gap"), "band_gap"), "PBE", "band_gap.value"),
        value("fermi_level", item.get("fermi_energy"), "PBE", "fermi_energy"),
        value("magnetic_state", item.get("magnetic_state"), "PBE", "magnetic_state"),
        value("magnetic_moment", inner_value(item.get("total_magnetization"), "total_magnetization"), "PBE", "total_magnetization.value"),
        value(
            "binding_energy",
            inner_value(item.get("binding_energy_per_substructure_per_unit_area_df2"), "binding_energy_df2"),
            "vdW-DF2",
            "binding_energy_per_substructure_per_unit_area_df2.value",
            unit=BINDING_UNIT,
        ),
    ]
    check_storable(item)
    return Record(
        source_key=key,
        chemical_formula_reduced=reduced_formula(parse_formula(formula)),
        raw=item,
        values=[v for v in values if v is not None],
        locator=locator,
        space_group=space_group_number(item.get("space_group")),
    )


def space_group_number(symbol: object) -> int | None:
    """The international number of a Hermann-Mauguin symbol (``None`` when absent or unknown)."""
    if not isinstance(symbol, str) or not symbol:
        return None
    from pymatgen.symmetry.groups import SpaceGroup

    try:
        return int(SpaceGroup(symbol).int_number)
    except ValueError:
        return None
