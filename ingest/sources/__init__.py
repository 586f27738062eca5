"""The source adapters, by the name ``atlas2d ingest SOURCE`` takes.

Each adapter module has a ``SOURCE`` (what the ``source`` table records) and a reader that
yields ``Record`` or ``Rejected`` for one file and never raises on a bad record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from atlas2d.ingest.records import Record, Rejected, SourceInfo
from atlas2d.ingest.sources import c2db, experimental, mc2d, optimade_json, twodmatpedia


@dataclass(frozen=True)
class Adapter:
    """A source and the reader of its file format."""

    source: SourceInfo
    read: Callable[[Path], Iterator[Record | Rejected]]
    formats: str


ADAPTERS: dict[str, Adapter] = {
    "c2db": Adapter(
        c2db.SOURCE, c2db.read, "ASE JSON database rows (*.json), an ASE SQLite export (*.db), the web-table CSV or a per-material download"
    ),
    "2dmatpedia": Adapter(twodmatpedia.SOURCE, twodmatpedia.read, "db.json lines (JSON lines, pymatgen structure dicts)"),
    "mc2d": Adapter(
        mc2d.SOURCE, mc2d.read, "MC2D v4 structures JSON list, the campi-v2 structure_2d.json or the Discover compounds file"
    ),
    "experimental": Adapter(experimental.SOURCE, experimental.read, "CSV of measured values"),
    "optimade": Adapter(optimade_json.SOURCE, optimade_json.read, "OPTIMADE /structures response JSON"),
}
"""Source name -> adapter."""
