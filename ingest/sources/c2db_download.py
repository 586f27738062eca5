"""One C2DB per-material download (``/c2db/row/<uid>/data``): ASR result files in one JSON object.

Keys are result file names (``structure.json``, ``info.json``, ``results-asr.gs.json``,
``results-asr.convex_hull.json``, ``results-asr.magstate.json``,
``results-asr.structureinfo.json``, ``results-asr.bandstructure.json``…); each result is
``{"constructor": "asr.<recipe>::Result", "kwargs": {"data": {...}}}`` with ASE-encoded arrays.
The entry is the structure (an ASE JSON row) with the ground-state values; gaps keep their
method as in the web table (``gap`` PBE with spin-orbit, ``gap_nosoc`` PBE). The band
structures in the same file (without and with spin-orbit) are read by
``atlas2d.ingest.bandfiles.c2db`` and attached to the same entry (``BandRecord``s sharing it);
a band-structure result that cannot be read is quarantined on its own, the entry still lands.

The source key is the C2DB uid, read from the file name (``<uid>.row.json`` or ``<uid>.json``,
how C2DB and scrapers of it name downloads), so the same uid from the web table and from a
download is one entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from atlas2d.ingest.band_records import BandRecord
from atlas2d.ingest.bandfiles.c2db import RESULT, band_structures
from atlas2d.ingest.harmonize import band_gap_type, number, value
from atlas2d.ingest.records import HarmonizationError, Record, Rejected, Value
from atlas2d.ingest.sources.ase_rows import structure_of_row
from atlas2d.ingest.sources.common import check_storable, read_text, structure_record

FORMAT = "C2DB per-material download (ASR JSON)"

UID_IN_NAME = re.compile(r"^(?P<uid>[A-Za-z0-9()]+-[0-9a-f]{12})(\.row|\.data)?\.json$")

IDENTITY_FIELDS = frozenset({"structure.json", "info.json"})
"""Result files that make the entry itself (structure, ids) rather than property values."""

GS = "results-asr.gs.json"
HULL = "results-asr.convex_hull.json"
MAGSTATE = "results-asr.magstate.json"
STRUCTUREINFO = "results-asr.structureinfo.json"

MAPPED_FIELDS = IDENTITY_FIELDS | {GS, HULL, MAGSTATE, STRUCTUREINFO}
"""The result files this reader takes values from (band structures and the rest stay in the raw record)."""

def looks_like(head: str) -> bool:
    """Whether a file's first characters are a per-material download."""
    return head.lstrip().startswith("{") and '"results-asr.' in head


def uid_of(path: Path) -> str | None:
    """The C2DB uid a download's file name carries."""
    match = UID_IN_NAME.match(path.name)
    return match["uid"] if match else None


def read(path: Path) -> Iterator[Record | BandRecord | Rejected]:
    """The one material of a download with its band structures; a file that cannot be read is one ``Rejected``."""
    text = read_text(path)
    try:
        document = json.loads(text)
        record = _record(document, path)
    except (ValueError, HarmonizationError) as exc:
        yield Rejected(locator=path.name, reason=f"unreadable C2DB download: {exc}", payload=text[:20000])
        return
    except Exception as exc:  # noqa: BLE001 - whatever a hostile download raises (deep nesting, a list for an object) is the reason
        yield Rejected(locator=path.name, reason=f"unreadable C2DB download: {type(exc).__name__}: {exc}", payload=text[:20000])
        return
    try:
        bands = band_structures(document)
    except Exception as exc:  # noqa: BLE001 - a broken band part loses the bands, never the material
        yield record
        payload = str(document.get(RESULT))[:20000]
        yield Rejected(locator=f"{path.name}#{RESULT}", reason=f"unreadable band structure: {exc}", payload=payload)
        return
    if not bands:
        yield record
    for found in bands:
        provenance = {"file": path.name, "format": FORMAT, "attached_by": "the download's own entry", **found.facts}
        yield BandRecord(entry=record, method=found.method, fermi_level=found.fermi_level, segments=found.segments, provenance=provenance)


def result_data(document: dict[str, Any], name: str) -> dict[str, Any]:
    """``kwargs.data`` of one ASR result file in a download (empty when the file is absent)."""
    result = document.get(name)
    if result is None:
        return {}
    data = result.get("kwargs", {}).get("data") if isinstance(result, dict) else None
    if not isinstance(data, dict):
        raise HarmonizationError(f"{name} is not an ASR result (no kwargs.data)")
    return data


def _record(document: Any, path: Path) -> Record:
    uid = uid_of(path)
    if uid is None:
        raise HarmonizationError(f"no C2DB uid in the file name {path.name!r} (expected <formula>-<12 hex>.json)")
    return document_record(document, uid, path.name)


def document_record(document: Any, uid: str, locator: str) -> Record:
    """The record of one download (its ASR result files as parsed JSON) for the C2DB ``uid``."""
    if not isinstance(document, dict) or "structure.json" not in document:
        raise HarmonizationError("a download is an object of ASR result files with structure.json")
    rows = document["structure.json"]
    if not isinstance(rows, dict) or len([k for k in rows if k.isdigit()]) != 1:
        raise HarmonizationError("structure.json must hold one ASE row")
    layer = structure_of_row(rows[next(k for k in rows if k.isdigit())])
    gs, hull, magstate = result_data(document, GS), result_data(document, HULL), result_data(document, MAGSTATE)
    info = result_data(document, STRUCTUREINFO)
    values: list[Value | None] = [
        value("band_gap", gs.get("gap"), "PBE+SOC", f"{GS}:gap"),
        value("band_gap", gs.get("gap_nosoc"), "PBE", f"{GS}:gap_nosoc"),
        value("direct_band_gap", gs.get("gap_dir"), "PBE+SOC", f"{GS}:gap_dir"),
        value("direct_band_gap", gs.get("gap_dir_nosoc"), "PBE", f"{GS}:gap_dir_nosoc"),
        value("fermi_level", gs.get("efermi"), "PBE+SOC", f"{GS}:efermi"),
        value("work_function", gs.get("workfunction"), "PBE", f"{GS}:workfunction"),
        value("total_energy", gs.get("etot"), "PBE", f"{GS}:etot"),
        value("formation_energy", hull.get("hform"), "PBE", f"{HULL}:hform"),
        value("energy_above_hull", hull.get("ehull"), "PBE", f"{HULL}:ehull"),
        value("thermodynamic_stability_level", hull.get("thermodynamic_stability_level"), "PBE", f"{HULL}:thermodynamic_stability_level"),
        value("magnetic_state", magstate.get("magstate"), "PBE", f"{MAGSTATE}:magstate"),
        value("magnetic_moment", magstate.get("magmom"), "PBE", f"{MAGSTATE}:magmom"),
    ]
    for method, gap, direct in (("PBE+SOC", "gap", "gap_dir"), ("PBE", "gap_nosoc", "gap_dir_nosoc")):
        values.append(band_gap_type(number(gs.get(gap), gap), number(gs.get(direct), direct), method, f"{GS}:{direct}"))
    check_storable(document)
    record = structure_record(uid, layer, document, values, locator, prototype=info.get("crystal_type") or None)
    space_group = (info.get("spglib_dataset") or {}).get("number")
    record.space_group = int(space_group) if isinstance(space_group, int) else None
    return record
