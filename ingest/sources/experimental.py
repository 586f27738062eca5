"""Experimental values for 2D monolayers, one measured value per CSV row.

Columns: ``formula`` (reduced), ``prototype``, ``layers``, ``property`` (an atlas2d
vocabulary name: ``optical_gap``, ``band_gap``, ``curie_temperature``…), ``value``, ``unit``,
``method`` (the technique, stored as ``expt:<technique>``), ``temperature_K``, ``doi``,
``note``, and optionally ``space_group`` (the number of the monolayer's space group). A row
has no structure: it joins the material of the computed entries with the same reduced
formula and space group when exactly one material has them (``atlas2d.ingest.linking``), so
measured and computed values meet on one material; a row without a space group keeps a
material of its own. The source key is
formula, prototype, layers, property, technique and DOI, which together name one
measurement.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from atlas2d.ingest.formulas import parse_formula, reduced_formula
from atlas2d.ingest.harmonize import number, value
from atlas2d.ingest.records import HarmonizationError, Record, Rejected, SourceInfo
from atlas2d.ingest.sources.base import Adapter
from atlas2d.ingest.sources.common import check_storable, read_csv_records
from atlas2d.ingest.vocabulary import experimental_method

COLUMNS = ("formula", "prototype", "layers", "property", "value", "unit", "method", "temperature_K", "doi", "note")

SPACE_GROUP = "space_group"
"""The optional column that links a row to computed entries."""


def read(path: Path) -> Iterator[Record | Rejected]:
    """Every data row of one CSV file; the header must name the columns above."""
    return read_csv_records(path, COLUMNS, _record)


def _record(header: list[str], fields: list[str], locator: str) -> Record:
    if len(fields) != len(header):
        raise HarmonizationError(f"row has {len(fields)} fields, the header {len(header)} (truncated or shifted row)")
    row = dict(zip(header, (f.strip() for f in fields), strict=True))
    formula = reduced_formula(parse_formula(row["formula"]))
    layers = number(row["layers"], "layers")
    if layers is not None and (layers < 1 or not layers.is_integer()):
        raise HarmonizationError(f"layers must be a positive whole number, got {row['layers']!r}")
    temperature = number(row["temperature_K"], "temperature_K")
    if not row["value"]:
        raise HarmonizationError("value is empty")
    given = {"layers": layers and int(layers), "temperature_K": temperature, "note": row["note"] or None}
    conditions = {k: v for k, v in given.items() if v is not None}
    measured = value(
        row["property"],
        row["value"],
        experimental_method(row["method"]),
        "value",
        unit=row["unit"] or None,
        conditions=conditions or None,
        reference=f"doi:{row['doi']}" if row["doi"] else None,
    )
    assert measured is not None
    space_group = number(row.get(SPACE_GROUP), SPACE_GROUP)
    if space_group is not None and not (space_group.is_integer() and 1 <= space_group <= 230):
        raise HarmonizationError(f"space_group must be a number from 1 to 230, got {row['space_group']!r}")
    key = "|".join((formula, row["prototype"], str(conditions.get("layers", "")), row["property"], row["method"], row["doi"]))
    check_storable(row)
    return Record(
        source_key=key,
        chemical_formula_reduced=formula,
        raw=row,
        values=[measured],
        locator=locator,
        prototype=row["prototype"] or None,
        space_group=int(space_group) if space_group is not None else None,
    )


ADAPTER = Adapter(
    SourceInfo(
        name="experimental",
        title="Experimental values for 2D monolayers, compiled from the literature (DOI per row)",
        version="atlas2d compilation 1",
        license="facts from the cited publications; compilation CC BY 4.0",
    ),
    "CSV of measured values",
    read,
    mapped_fields=frozenset(COLUMNS) | {SPACE_GROUP},
)
