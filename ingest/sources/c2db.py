"""C2DB: ASE database rows, as ASE JSON (``*.json``) or an ASE SQLite export (``*.db``), and the adapter of every C2DB format.

The web-table CSV (``c2db_table``) and per-material downloads (``c2db_download``) are
recognised by content (``FORMATS``); this module reads the ASE rows.

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

from atlas2d.ingest.harmonize import band_gap_type, number, value
from atlas2d.ingest.records import HarmonizationError, Record, Rejected, SourceInfo, Value
from atlas2d.ingest.sources import c2db_download, c2db_table
from atlas2d.ingest.sources.ase_rows import structure_of_row
from atlas2d.ingest.sources.base import Adapter
from atlas2d.ingest.sources.common import attempt, dumps, read_text, structure_record
from atlas2d.ingest.sources.formats import Format, always, dispatch

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first bytes of every SQLite database file."""

ASE_BOOKKEEPING = frozenset({"ids", "nextid", "metadata"})
"""Keys of an ASE JSON database that are not rows (the row ids, the next id, its metadata)."""

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
    text = read_text(path)
    try:
        document = json.loads(text)
        if not isinstance(document, dict):
            raise ValueError("an ASE JSON database is an object of rows")
    except Exception as exc:  # noqa: BLE001 - whatever a hostile file raises (deep nesting: RecursionError) is the reason
        yield Rejected(locator=path.name, reason=f"unreadable ASE JSON database: {type(exc).__name__}: {exc}", payload=text[:20000])
        return
    row_ids = [k for k in document if k.isascii() and k.isdigit()]
    for key in document:
        if key not in ASE_BOOKKEEPING and not (key.isascii() and key.isdigit()):
            reason = f"{key[:100]!r} is not an ASE row id (rows are keyed by decimal numbers)"
            yield Rejected(locator=f"{path.name}#{key[:100]}", reason=reason, payload=dumps(document[key])[:20000])
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

    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        # ASE would turn any other file, an empty one included, into a new database: reading must not write.
        reason = "not an SQLite database (an ASE .db export starts with 'SQLite format 3')"
        yield Rejected(locator=path.name, reason=reason, payload=repr(header))
        return
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


FORMAT = "C2DB ASE database rows"

ROW_FIELDS = frozenset({"cell", "numbers", "positions", "pbc", "energy", "key_value_pairs", "unique_id"})
"""The fields of an ASE row this reader uses."""

PART_ORDER = (c2db_table.FORMAT, FORMAT, c2db_download.FORMAT)
"""The formats of one uid's parts, least precise first: a value both give is taken from the later
(the web table shows numbers rounded for display; the download and the ASE rows hold them whole)."""


def parts_of(raw: dict[str, Any]) -> dict[str, Any]:
    """A stored raw record as its parts keyed by format name (a one-format record is one part)."""
    if raw and set(raw) <= set(PART_ORDER):
        return dict(raw)
    if "structure.json" in raw:
        return {c2db_download.FORMAT: raw}
    if c2db_table.UID in raw:
        return {c2db_table.FORMAT: raw}
    return {FORMAT: raw}


def combine(stored: dict[str, Any], record: Record) -> Record:
    """One entry for one C2DB uid whichever files hold it: the stored parts with ``record``'s part
    put in (replacing that format's earlier part), as one record.

    The raw record keeps every part keyed by its format; the values are all parts' values, a
    value both give taken from the more precise part (``PART_ORDER``); the structure, space
    group and prototype come from whichever part has them. A record of the format already
    stored and nothing else simply replaces it.
    """
    parts = {**parts_of(stored), **parts_of(record.raw)}
    if len(parts) == 1:
        return record
    records = [_part_record(name, parts[name], record.source_key, record.locator) for name in PART_ORDER if name in parts]
    values = {(v.name, v.method): v for r in records for v in r.values}
    shaped = next((r for r in reversed(records) if r.layer is not None), records[-1])
    return Record(
        source_key=record.source_key,
        chemical_formula_reduced=shaped.chemical_formula_reduced,
        raw={name: parts[name] for name in PART_ORDER if name in parts},
        layer=shaped.layer,
        values=list(values.values()),
        locator=record.locator,
        prototype=next((r.prototype for r in reversed(records) if r.prototype), None),
        space_group=next((r.space_group for r in reversed(records) if r.space_group is not None), None),
    )


def _part_record(name: str, part: dict[str, Any], key: str, locator: str) -> Record:
    if name == c2db_table.FORMAT:
        return c2db_table.row_record(part, locator)
    if name == c2db_download.FORMAT:
        return c2db_download.document_record(part, key, locator)
    return _record(part, locator, key)


FORMATS = (
    Format(c2db_table.FORMAT, c2db_table.looks_like, c2db_table.read),
    Format(c2db_download.FORMAT, c2db_download.looks_like, c2db_download.read),
    Format(FORMAT, always, read),
)
"""C2DB's formats, most specific first; ASE rows (JSON or SQLite) are the fallback."""

ADAPTER = Adapter(
    SourceInfo(
        name="c2db",
        title="Computational 2D Materials Database (C2DB)",
        version="2022 web release (rows as downloaded from c2db.fysik.dtu.dk)",
        license="CC BY 4.0",
        url="https://c2db.fysik.dtu.dk",
        citation="Haastrup et al., 2D Mater. 5, 042002 (2018); Gjerding et al., 2D Mater. 8, 044002 (2021)",
    ),
    "ASE JSON database rows (*.json), an ASE SQLite export (*.db), the web-table CSV or per-material downloads",
    dispatch(FORMATS),
    mapped_fields=c2db_table.MAPPED_FIELDS | c2db_download.MAPPED_FIELDS | ROW_FIELDS | frozenset(PART_ORDER),
    file_formats=FORMATS,
    combine=combine,
)
