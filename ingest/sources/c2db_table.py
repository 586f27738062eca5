"""C2DB's browse-page CSV export (every column switched on), one material per row, no structures.

The header holds the page's column titles, each followed by spaces and the remove-column
glyph "✕"; missing values are "-". Titles map to C2DB keys and units per C2DB's key list
(``shared/data/c2db/PROVENANCE.md``). Gaps keep their method: "Band gap" is PBE with
spin-orbit (``PBE+SOC``), "Gap wo. soc." is PBE without it (``PBE``, the method MC2D and
2DMatPedia report), HSE06 and G0W0 their own. Columns not in ``COLUMNS`` are kept in the raw
record (the whole row is) and listed by ``atlas2d status --unmapped``, never dropped silently.

The source key is the C2DB uid ("Unique identifier", ``<formula>-<hash>``), the same key a
per-material download carries, so both are one entry. The row's space group number and
crystal type (prototype) are what a structureless record is linked to a material by
(``atlas2d.ingest.linking``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from atlas2d.ingest.formulas import parse_formula, reduced_formula
from atlas2d.ingest.harmonize import band_gap_type, number, value
from atlas2d.ingest.records import HarmonizationError, Record, Rejected, Value
from atlas2d.ingest.sources.common import check_storable, read_csv_records

FORMAT = "C2DB web-table CSV"

REMOVE_GLYPH = "✕"
UNKNOWN = "-"

UID = "Unique identifier"
FORMULA = "Formula"
SPACE_GROUP_NUMBER = "Space group number"
CRYSTAL_TYPE = "Crystal type"

IDENTITY_FIELDS = frozenset({UID, FORMULA})
"""Columns that make the entry itself (its key and formula) rather than a property."""

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Band gap", "band_gap", "PBE+SOC"),
    ("Gap wo. soc.", "band_gap", "PBE"),
    ("Band gap (HSE06)", "band_gap", "HSE06"),
    ("Band gap (G₀W₀)", "band_gap", "G0W0"),
    ("Dir. band gap", "direct_band_gap", "PBE+SOC"),
    ("Dir. gap wo. soc.", "direct_band_gap", "PBE"),
    ("Direct band gap (HSE06)", "direct_band_gap", "HSE06"),
    ("Direct band gap (G₀W₀)", "direct_band_gap", "G0W0"),
    ("Cond. band minimum", "conduction_band_minimum", "PBE+SOC"),
    ("Conduction band minimum (HSE06)", "conduction_band_minimum", "HSE06"),
    ("Conduction band minimum (G₀W₀)", "conduction_band_minimum", "G0W0"),
    ("Val. band maximum", "valence_band_maximum", "PBE+SOC"),
    ("Valence band maximum (HSE06)", "valence_band_maximum", "HSE06"),
    ("Valence band maximum (G₀W₀)", "valence_band_maximum", "G0W0"),
    ("Energy above convex hull", "energy_above_hull", "PBE"),
    ("Heat of formation", "formation_energy", "PBE"),
    ("Energy", "total_energy", "PBE"),
    ("Magnetic moment", "magnetic_moment", "PBE"),
    ("Magnetic state", "magnetic_state", "PBE"),
    ("Phonon dynamic stability (low/high)", "dynamically_stable", "PBE"),
    ("Thermodynamic stability level", "thermodynamic_stability_level", "PBE"),
    ("Fermi level", "fermi_level", "PBE"),
    ("Work function (avg. if finite dipole)", "work_function", "PBE"),
    ("Exc. bind. energy", "exciton_binding_energy", "BSE"),
    ("Conduction band effective mass, direction 1", "effective_mass_electron_1", "PBE+SOC"),
    ("Conduction band effective mass, direction 2", "effective_mass_electron_2", "PBE+SOC"),
    ("Valence band effective mass, direction 1", "effective_mass_hole_1", "PBE+SOC"),
    ("Valence band effective mass, direction 2", "effective_mass_hole_2", "PBE+SOC"),
    *((f"Stiffness tensor, {i}{j}-component", f"stiffness_{i}{j}", "PBE") for i in "123" for j in "123"),
    ("Speed of sound (x)", "speed_of_sound_x", "PBE"),
    ("Speed of sound (y)", "speed_of_sound_y", "PBE"),
)
"""Column title -> (atlas2d property, method); units are the vocabulary's (C2DB's own match them)."""

MAPPED_FIELDS = IDENTITY_FIELDS | {SPACE_GROUP_NUMBER, CRYSTAL_TYPE} | {title for title, _, _ in COLUMNS}
"""Every column this reader uses: the entry's key and formula, its linking keys and the values."""


def column_title(header: str) -> str:
    """A header cell without the trailing spaces and remove-column glyph."""
    return header.replace(REMOVE_GLYPH, "").strip()


def looks_like(head: str) -> bool:
    """Whether a file's first characters are this CSV's header."""
    first = head.split("\n", 1)[0]
    return first.startswith(FORMULA) and REMOVE_GLYPH in first and UID in first


def read(path: Path) -> Iterator[Record | Rejected]:
    """Every data row; a header without the uid and formula columns is one ``Rejected``."""
    return read_csv_records(path, (UID, FORMULA), _record, titles=column_title)


def _record(header: list[str], fields: list[str], locator: str) -> Record:
    if len(fields) != len(header):
        raise HarmonizationError(f"row has {len(fields)} fields, the header {len(header)} (truncated or shifted row)")
    row = {title: (None if cell.strip() == UNKNOWN else cell.strip()) for title, cell in zip(header, fields, strict=True)}
    return row_record(row, locator)


def row_record(row: dict[str, str | None], locator: str) -> Record:
    """The record of one row as stored (column title -> cell, ``None`` for "-")."""
    uid = row.get(UID)
    if not uid:
        raise HarmonizationError("missing C2DB uid (Unique identifier)")
    formula = row.get(FORMULA)
    if not formula:
        raise HarmonizationError("missing formula")
    values: list[Value | None] = [value(name, row.get(title), method, title) for title, name, method in COLUMNS]
    for method, gap, direct in (("PBE+SOC", "Band gap", "Dir. band gap"), ("PBE", "Gap wo. soc.", "Dir. gap wo. soc.")):
        values.append(band_gap_type(number(row.get(gap), gap), number(row.get(direct), direct), method, gap))
    check_storable(row)
    space_group = number(row.get(SPACE_GROUP_NUMBER), SPACE_GROUP_NUMBER)
    return Record(
        source_key=uid,
        chemical_formula_reduced=reduced_formula(parse_formula(formula)),
        raw=row,
        values=[v for v in values if v is not None],
        locator=locator,
        prototype=row.get(CRYSTAL_TYPE),
        space_group=int(space_group) if space_group is not None else None,
    )
