"""MC2D (Materials Cloud 2D crystals, Mounet et al. 2018): the version 4 JSON, and the adapter of every MC2D format.

The current list (campi-v2, ``mc2d_campi``) and the Discover compounds file
(``mc2d_discover``) are recognised by content (``FORMATS``); this module reads the v4 list.

A JSON list of monolayers: ``cell`` as ``[["a1", x, y, z], …]`` in Å (``a3`` spans the
vacuum), ``atomic_positions`` as ``[kind, x, y, z, element]`` Cartesian Å (z centred on 0; the
kind is a Quantum ESPRESSO species label such as ``V1``/``V2`` for the two spin sublattices
of an antiferromagnet, so the element is read from the last field), ``band_gap`` (eV, PBE),
``magnetic_state``, ``tot_magnetization`` (μB/cell), and binding
energies of the 3D parent (``be_df2``, ``be_rvv10``, meV/Å², two vdW functionals). The
AiiDA ``structure_label`` identifies a record. MC2D writes ``"-"`` for a binding energy it
did not compute; that is read as unknown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from atlas2d.ingest.geometry import layer_from_arrays
from atlas2d.ingest.harmonize import value
from atlas2d.ingest.records import HarmonizationError, Layer, Record, Rejected, SourceInfo
from atlas2d.ingest.sources import mc2d_campi, mc2d_discover
from atlas2d.ingest.sources.base import Adapter
from atlas2d.ingest.sources.common import (
    read_json_array,
    structure_record,
)
from atlas2d.ingest.sources.formats import Format, always, dispatch

NOT_COMPUTED = "-"


def read(path: Path) -> Iterator[Record | Rejected]:
    """Every entry of one MC2D JSON file; a damaged tail is quarantined, the rest ingested."""
    return read_json_array(path, _record)


def _record(item: Any, locator: str) -> Record:
    if not isinstance(item, dict):
        raise HarmonizationError(f"an entry is an object, got {type(item).__name__}")
    values = [
        value("band_gap", item.get("band_gap"), "PBE", "band_gap"),
        value("magnetic_state", item.get("magnetic_state"), "PBE", "magnetic_state"),
        value("magnetic_moment", item.get("tot_magnetization"), "PBE", "tot_magnetization"),
        value("binding_energy", _known(item.get("be_df2")), "vdW-DF2", "be_df2"),
        value("binding_energy", _known(item.get("be_rvv10")), "rVV10", "be_rvv10"),
    ]
    return structure_record(item.get("structure_label"), _structure(item), item, values, locator, item.get("prototype"))


def _structure(item: dict[str, Any]) -> Layer:
    cell = item.get("cell")
    positions = item.get("atomic_positions")
    if not isinstance(cell, list) or len(cell) != 3:
        raise HarmonizationError("cell must be three labelled vectors [name, x, y, z]")
    if not isinstance(positions, list) or not positions:
        raise HarmonizationError("structure has no atoms")
    try:
        matrix = [row[1:4] for row in cell]
        coords = [site[1:4] for site in positions]
        symbols = [site[4] if len(site) > 4 else site[0] for site in positions]
    except (TypeError, IndexError) as exc:
        raise HarmonizationError(f"cell or atomic_positions are malformed: {exc}") from exc
    return layer_from_arrays(matrix, coords, symbols, cartesian=True)


def _known(raw: object) -> object:
    """MC2D's ``"-"`` (not computed) as ``None``; anything else as it is."""
    return None if raw == NOT_COMPUTED else raw


FORMAT = "MC2D v4 structures.json"

V4_FIELDS = frozenset(
    {"structure_label", "cell", "atomic_positions", "prototype", "band_gap", "magnetic_state", "tot_magnetization", "be_df2", "be_rvv10"}
)
"""The fields of a v4 entry this reader uses."""

FORMATS = (
    Format(mc2d_discover.FORMAT, mc2d_discover.looks_like, mc2d_discover.read),
    Format(mc2d_campi.FORMAT, mc2d_campi.looks_like, mc2d_campi.read),
    Format(FORMAT, always, read),
)
"""MC2D's formats, most specific first; the v4 structure list is the fallback."""

ADAPTER = Adapter(
    SourceInfo(
        name="mc2d",
        title="Materials Cloud two-dimensional crystals database (MC2D)",
        version="v4 (mounet-v4 structures.json)",
        license="CC BY 4.0",
        url="https://www.materialscloud.org/discover/mc2d",
        citation="N. Mounet et al., Nat. Nanotechnol. 13, 246 (2018)",
    ),
    "MC2D v4 structures JSON list, the campi-v2 structure_2d.json or the Discover compounds file",
    dispatch(FORMATS),
    mapped_fields=mc2d_campi.MAPPED_FIELDS | mc2d_discover.MAPPED_FIELDS | V4_FIELDS,
    file_formats=FORMATS,
)
