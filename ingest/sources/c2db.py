"""C2DB: ASE database rows, as ASE JSON (``*.json``) or an ASE SQLite export (``*.db``).

A row holds ``cell`` (Å, third vector along the vacuum), ``numbers``, Cartesian
``positions`` (Å), ``pbc`` and ``energy`` (eV, PBE); a full C2DB export adds key-value pairs
(``gap``, ``gap_hse``, ``gap_gw``, ``hform``, ``ehull``, ``magstate``, ``dyn_stab``, ``uid``…)
mapped below to the atlas2d vocabulary. The C2DB uid (``<formula>-<hash>``) is the source
key: from the ``uid`` pair, else from a ``<uid>.structure.json`` file name (how C2DB's web
site names a row's download), else ASE's ``unique_id``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Element

from atlas2d.ingest.harmonize import (
    HarmonizationError,
    band_gap_type,
    layer_from_arrays,
    number,
    value,
)
from atlas2d.ingest.records import Layer, Record, Rejected, SourceInfo, Value
from atlas2d.ingest.sources.common import attempt, dumps, structure_record

SOURCE = SourceInfo(
    name="c2db",
    title="Computational 2D Materials Database (C2DB)",
    version="2022 web release (rows as downloaded from c2db.fysik.dtu.dk)",
    license="CC BY 4.0",
    url="https://c2db.fysik.dtu.dk",
    citation="Haastrup et al., 2D Mater. 5, 042002 (2018); Gjerding et al., 2D Mater. 8, 044002 (2021)",
)

UID_FILE_NAME = re.compile(r"^(?P<uid>[A-Za-z0-9()]+-[0-9a-f]{12})(\.structure)?\.json$")

NUMERIC_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("gap", "band_gap", "PBE"),
    ("gap_hse", "band_gap", "HSE06"),
    ("gap_gw", "band_gap", "G0W0"),
    ("hform", "formation_energy", "PBE"),
    ("ehull", "energy_above_hull", "PBE"),
    ("magmom", "magnetic_moment", "PBE"),
)
"""C2DB key-value pair -> (atlas2d property, method)."""

TEXT_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("magstate", "magnetic_state", "PBE"),
    ("dyn_stab", "dynamically_stable", "PBE"),
)


def read(path: Path) -> Iterator[Record | Rejected]:
    """Every row of one C2DB file; a file that cannot be opened is one ``Rejected``."""
    if path.suffix == ".db":
        yield from _read_sqlite(path)
        return
    text = path.read_text(errors="replace")
    try:
        document = json.loads(text)
        if not isinstance(document, dict):
            raise ValueError("an ASE JSON database is an object of rows")
    except ValueError as exc:
        yield Rejected(locator=path.name, reason=f"unreadable ASE JSON database: {exc}", payload=text[:20000])
        return
    row_ids = [k for k in document if k.isdigit()]
    file_uid = UID_FILE_NAME.match(path.name)
    for row_id in row_ids:
        row = document[row_id]
        default_key = file_uid["uid"] if file_uid and len(row_ids) == 1 else None
        yield attempt(
            f"{path.name}#{row_id}",
            lambda row=row: dumps(row),
            lambda row=row, row_id=row_id, default_key=default_key: _record(row, f"{path.name}#{row_id}", default_key),
        )


def _read_sqlite(path: Path) -> Iterator[Record | Rejected]:
    from ase.db import connect
    from ase.io.jsonio import encode

    try:
        rows = list(connect(str(path), type="db").select())
    except Exception as exc:  # noqa: BLE001 - a damaged database file is quarantined, not fatal
        yield Rejected(locator=path.name, reason=f"unreadable ASE SQLite database: {exc}", payload=str(path))
        return
    for row in rows:
        locator = f"{path.name}#{row.id}"
        yield attempt(
            locator,
            lambda row=row: repr(row.__dict__),
            lambda row=row, locator=locator: _record(json.loads(encode(dict(row.__dict__))), locator, None),
        )


def _record(row: Any, locator: str, default_key: str | None) -> Record:
    if not isinstance(row, dict):
        raise HarmonizationError(f"a row is an object, got {type(row).__name__}")
    pairs = row.get("key_value_pairs") or {}
    if not isinstance(pairs, dict):
        raise HarmonizationError("key_value_pairs is not an object")
    key = pairs.get("uid") or default_key or row.get("unique_id")
    structure = structure_of_row(row)
    values: list[Value | None] = [
        value(name, pairs.get(field), method, field) for field, name, method in NUMERIC_PAIRS
    ]
    values += [value(name, pairs.get(field), method, field) for field, name, method in TEXT_PAIRS]
    values.append(band_gap_type(number(pairs.get("gap"), "gap"), number(pairs.get("gap_dir"), "gap_dir"), "PBE", "gap_dir"))
    values.append(value("total_energy", row.get("energy"), "PBE", "energy"))
    return structure_record(key, structure, row, values, locator, prototype=pairs.get("crystal_type") or None)


def structure_of_row(row: dict[str, Any]) -> Layer:
    """The layer of one ASE JSON row (``cell``, ``numbers``, Cartesian ``positions``)."""
    for field in ("cell", "numbers", "positions"):
        if field not in row:
            raise HarmonizationError(f"row has no {field!r}")
    cell = _array(row["cell"], "cell")
    numbers = _array(row["numbers"], "numbers")
    positions = _array(row["positions"], "positions")
    if cell.shape != (3, 3):
        raise HarmonizationError(f"cell has shape {cell.shape}, expected 3x3")
    if numbers.ndim != 1 or len(numbers) == 0:
        raise HarmonizationError("structure has no atoms")
    if positions.shape != (len(numbers), 3):
        raise HarmonizationError(f"positions have shape {positions.shape} for {len(numbers)} atoms")
    species = []
    for z in numbers:
        if not float(z).is_integer() or not 1 <= int(z) <= 118:
            raise HarmonizationError(f"unknown element: atomic number {z}")
        species.append(Element.from_Z(int(z)).symbol)
    return layer_from_arrays(cell, positions, species, cartesian=True)


def _array(encoded: Any, field: str) -> np.ndarray:
    """An ASE JSON array (``{"__ndarray__": [shape, dtype, flat]}``, a cell object or a list)."""
    if isinstance(encoded, dict) and encoded.get("__ase_objtype__") == "cell":
        encoded = encoded.get("array")
    if isinstance(encoded, dict) and "__ndarray__" in encoded:
        try:
            shape, _dtype, flat = encoded["__ndarray__"]
            result = np.array(flat, dtype=float).reshape(shape)
        except (TypeError, ValueError) as exc:
            raise HarmonizationError(f"{field} is not a valid ASE array: {exc}") from exc
        return result
    try:
        return np.array(encoded, dtype=float)
    except (TypeError, ValueError) as exc:
        raise HarmonizationError(f"{field} is not numeric: {exc}") from exc
