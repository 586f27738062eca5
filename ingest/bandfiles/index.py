"""Read band-structure files named by an index CSV and attach each to its entry.

Columns: ``file`` (relative to the index), ``source``, ``source_id`` (the entry the bands
belong to), ``method``, ``code``; every other column is kept as provenance
(``bands-gpaw/index.csv`` is one). A row whose file cannot be read, or whose entry is not in
the store, goes to quarantine with the reason; nothing is dropped.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from atlas2d.ingest.band_records import BandDataError, BandRecord, Segment
from atlas2d.ingest.band_store import BandWriteCounts, write_bands
from atlas2d.ingest.bandfiles import ase_json, qe, questaal, vasp
from atlas2d.ingest.records import HarmonizationError, Record, Rejected
from atlas2d.ingest.sources import c2db_download
from atlas2d.ingest.store import quarantine
from atlas2d.ingest.vocabulary import check_method
from atlas2d.schema.models import Entry, Source

REQUIRED = ("file", "source", "source_id", "method", "code")
QUARANTINE_SOURCE = "bands"

Reader = Callable[[Path], tuple[float | None, list[Segment], dict[str, object]]]


@dataclass
class BandIngestSummary:
    """What one ``atlas2d ingest bands`` run did."""

    rows: int = 0
    bands: BandWriteCounts = field(default_factory=BandWriteCounts)
    quarantined: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    def quarantine(self, session: Session, file: str, rejected: Rejected) -> None:
        """Quarantine one file or row that could not be attached, and count it by its reason."""
        self.quarantined += quarantine(session, QUARANTINE_SOURCE, file, [rejected])
        reason = rejected.reason.split(":")[0]
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def reader_for(path: Path) -> tuple[str, Reader]:
    """The format and reader of one band-structure file, recognised from its name and content."""
    if vasp.looks_like_eigenval(path):
        return vasp.FORMAT_EIGENVAL, vasp.read_eigenval
    with path.open(encoding="utf-8", errors="replace") as handle:
        head = handle.read(4096)
    if c2db_download.looks_like(head):
        raise BandDataError(
            "a C2DB per-material download holds two band structures: ingest it with 'atlas2d ingest c2db', or without an index row"
        )
    if vasp.looks_like_vasprun(head):
        return vasp.FORMAT_VASPRUN, vasp.read_vasprun
    if ase_json.looks_like(head):
        return ase_json.FORMAT, ase_json.read
    if qe.looks_like(head):
        return qe.FORMAT, qe.read
    if questaal.looks_like(head):
        return questaal.FORMAT, questaal.read
    raise BandDataError(
        "not a band-structure format atlas2d reads (vasprun.xml, EIGENVAL, ASE band-structure JSON, QE bands.x filband, Questaal bnds)"
    )


def ingest_index(engine: Engine, index: Path, on_row: Callable[[], None] | None = None) -> BandIngestSummary:
    """Every row of one index CSV, each file read and attached (one transaction per row)."""
    summary = BandIngestSummary()
    with index.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        rows = list(_rows(handle))
    header = rows[0] if rows and isinstance(rows[0], dict) else {}
    if not rows or any(c not in header for c in REQUIRED):
        raise BandDataError(f"{index.name}: an index CSV needs the columns {', '.join(REQUIRED)}")
    for number, row in enumerate(rows, start=2):
        summary.rows += 1
        locator = f"{index.name}:{number}"
        with Session(engine) as session, session.begin():
            result = _attach_isolated(session, index.parent, row, locator, summary)
            if isinstance(result, Rejected):
                summary.quarantine(session, index.name, result)
        if on_row is not None:
            on_row()
    return summary


def _rows(handle: TextIO) -> Iterator[dict[str, str] | csv.Error]:
    """The index's rows, a row the CSV parser refuses (a field over its size limit) as its ``csv.Error``."""
    reader = csv.DictReader(handle)
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc


def _attach_isolated(
    session: Session, folder: Path, row: dict[str, str] | csv.Error, locator: str, summary: BandIngestSummary
) -> Rejected | None:
    """``_attach`` in a savepoint: whatever a hostile row or band file raises, or the database
    refuses, becomes the row's quarantine reason."""
    if isinstance(row, csv.Error):
        return Rejected(locator, f"unreadable index row: {row}", "")
    try:
        with session.begin_nested():
            return _attach(session, folder, row, locator, summary)
    except Exception as exc:  # noqa: BLE001 - one hostile row must not end the run
        payload = ",".join(str(v) for v in row.values())[:20000]
        return Rejected(locator, f"unreadable band file or row: {type(exc).__name__}: {exc}", payload)


def _attach(session: Session, folder: Path, row: dict[str, str], locator: str, summary: BandIngestSummary) -> Rejected | None:
    payload = ",".join(row.values())
    try:
        check_method(row["method"])
    except HarmonizationError as exc:
        return Rejected(locator, str(exc), payload)
    entry_id = session.execute(
        select(Entry.id).join(Source).where(Source.name == row["source"], Entry.source_key == row["source_id"])
    ).scalar_one_or_none()
    if entry_id is None:
        return Rejected(locator, f"no entry {row['source']}:{row['source_id']} in the store (ingest the source first)", payload)
    path = folder / row["file"]
    try:
        if not path.is_file():
            raise BandDataError(f"file not found: {row['file']}")
        form, read = reader_for(path)
        fermi, segments, facts = read(path)
    except (BandDataError, OSError) as exc:
        return Rejected(locator, f"unreadable band file: {exc}", payload)
    summary.formats[form] = summary.formats.get(form, 0) + 1
    provenance = {"file": row["file"], "format": form, **facts, **{k: v for k, v in row.items() if k not in ("file", "source_id")}}
    target = Record(source_key=row["source_id"], chemical_formula_reduced="", raw={})
    record = BandRecord(entry=target, method=row["method"], fermi_level=fermi, segments=segments, provenance=provenance)
    write_bands(session, entry_id, record, summary.bands)
    return None


def index_files(paths: list[Path]) -> list[Path]:
    """The index CSVs ``paths`` name (a folder means its ``index.csv``); ``BandDataError`` for a missing or non-CSV one."""
    indexes = []
    for path in paths:
        candidate = path / "index.csv" if path.is_dir() else path
        if candidate.suffix.lower() != ".csv":
            raise BandDataError(f"{path}: give an index CSV (columns {', '.join(REQUIRED)})")
        if not candidate.is_file():
            raise BandDataError(f"no such index CSV: {candidate}")
        indexes.append(candidate)
    return indexes
