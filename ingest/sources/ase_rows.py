"""ASE JSON database rows (``ase.db`` JSON or a row's download): the structure of one row.

C2DB's own rows and the ``structure.json`` inside its per-material downloads are the same
ASE row, so both C2DB formats read their structure here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pymatgen.core import Element

from atlas2d.ingest.geometry import layer_from_arrays
from atlas2d.ingest.records import HarmonizationError, Layer


def structure_of_row(row: dict[str, Any]) -> Layer:
    """The layer of one ASE JSON row (``cell``, ``numbers``, Cartesian ``positions``)."""
    for field in ("cell", "numbers", "positions"):
        if field not in row:
            raise HarmonizationError(f"row has no {field!r}")
    cell = ase_array(row["cell"], "cell")
    numbers = ase_array(row["numbers"], "numbers")
    positions = ase_array(row["positions"], "positions")
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


def ase_array(encoded: Any, field: str) -> np.ndarray:
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
