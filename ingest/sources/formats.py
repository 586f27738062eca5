"""Which reader a file needs, recognised from its content, per source name.

``atlas2d ingest SOURCE FILE…`` keeps the source names (``c2db``, ``2dmatpedia``, ``mc2d``…);
a source is published in several formats (C2DB's web-table CSV, its per-material download,
its ASE database rows), so each file's first characters pick the reader, and the ingest
summary names the format it read. The last format of a source is its fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from atlas2d.ingest.records import Record, Rejected
from atlas2d.ingest.sources import (
    c2db,
    c2db_download,
    c2db_table,
    experimental,
    mc2d,
    mc2d_campi,
    mc2d_discover,
    optimade_json,
    twodmatpedia,
)

HEAD_CHARS = 65536
"""Characters read to recognise a format: enough for a first record's keys."""


@dataclass(frozen=True)
class Format:
    """One file format of a source: its name, how to recognise it, how to read it."""

    name: str
    looks_like: Callable[[str], bool]
    read: Callable[[Path], Iterator[Record | Rejected]]


def _always(_head: str) -> bool:
    return True


FORMATS: dict[str, tuple[Format, ...]] = {
    "c2db": (
        Format(c2db_table.FORMAT, c2db_table.looks_like, c2db_table.read),
        Format(c2db_download.FORMAT, c2db_download.looks_like, c2db_download.read),
        Format("C2DB ASE database rows", _always, c2db.read),
    ),
    "2dmatpedia": (Format(twodmatpedia.FORMAT, _always, twodmatpedia.read),),
    "mc2d": (
        Format(mc2d_discover.FORMAT, mc2d_discover.looks_like, mc2d_discover.read),
        Format(mc2d_campi.FORMAT, mc2d_campi.looks_like, mc2d_campi.read),
        Format("MC2D v4 structures.json", _always, mc2d.read),
    ),
    "experimental": (Format("experimental values CSV", _always, experimental.read),),
    "optimade": (Format("OPTIMADE structures JSON", _always, optimade_json.read),),
}
"""Source name -> its formats, most specific first."""

IDENTITY_FIELDS: dict[str, frozenset[str]] = {
    "c2db": c2db_table.IDENTITY_FIELDS | c2db_download.IDENTITY_FIELDS | {"cell", "numbers", "positions", "pbc", "key_value_pairs"},
    "2dmatpedia": twodmatpedia.IDENTITY_FIELDS,
    "mc2d": mc2d_campi.IDENTITY_FIELDS
    | mc2d_discover.IDENTITY_FIELDS
    | {"structure_label", "cell", "atomic_positions", "formula", "formula_reduced"},
}
"""Raw fields each source's formats turn into the entry itself (key, formula, structure), not a property."""


def detect(source: str, path: Path) -> Format:
    """The format of ``path`` among ``source``'s formats (the fallback when none is recognised)."""
    formats = FORMATS[source]
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(HEAD_CHARS)
    except OSError:
        return formats[-1]
    return next((f for f in formats if f.looks_like(head)), formats[-1])
