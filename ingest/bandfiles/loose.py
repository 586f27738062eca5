"""Band-structure files without an index row, attached to the stored entry their structure is.

A vasprun.xml (or the POSCAR beside an EIGENVAL), a QE filband with its pw.x output, a
Questaal bnds with its site file and a C2DB per-material download each carry a structure.
The caller's ``match`` (``atlas2d.embeddings.structure.match.match_stored``: the dedup rule
for one structure) names the entry it is, or why there is none; the bands are written to
that entry with their method, code, spin treatment and provenance (file, format, how they
were attached). A file that cannot be read, whose method the file does not say, or that
matches no entry or several materials, goes to quarantine with the reason.

Ingest sits left of the invariants in the data flow, so the matcher is passed in, not imported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from atlas2d.ingest.band_records import BandDataError, BandRecord, Segment
from atlas2d.ingest.band_store import write_bands
from atlas2d.ingest.bandfiles import qe, questaal, vasp
from atlas2d.ingest.bandfiles.c2db import band_structures
from atlas2d.ingest.bandfiles.index import BandIngestSummary, reader_for
from atlas2d.ingest.records import HarmonizationError, Record, Rejected
from atlas2d.ingest.sources import c2db_download
from atlas2d.ingest.vocabulary import check_method

STRUCTURE_OF: dict[str, Callable[[Path], Any]] = {
    vasp.FORMAT_VASPRUN: vasp.structure,
    vasp.FORMAT_EIGENVAL: vasp.structure,
    qe.FORMAT: qe.structure,
    questaal.FORMAT: questaal.structure,
}
"""Format -> the structure in or beside a file of it (ASE band JSON carries only a cell: it needs an index row)."""


class Match(Protocol):
    """What a matcher answers: the entry (``None`` for none) and why."""

    entry_id: int | None
    note: str


Matcher = Callable[[Session, Any], Match]
"""(session, pymatgen Structure) -> the stored entry it is, or why none."""


@dataclass(frozen=True)
class FileBands:
    """One band structure read from a file, before it is attached."""

    method: str | None
    fermi_level: float | None
    segments: list[Segment]
    facts: dict[str, object]


def band_files(paths: list[Path]) -> list[Path]:
    """The band-structure files ``paths`` name: files as given, folders searched.

    An EIGENVAL beside a vasprun.xml is the same run and is left out.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
            continue
        for candidate in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix not in (".md", ".py", ".csv")):
            if vasp.looks_like_eigenval(candidate) and candidate.with_name("vasprun.xml").exists():
                continue
            if _recognised(candidate):
                found.append(candidate)
    return found


def attach_files(
    engine: Engine, files: list[Path], match: Matcher, root: Path | None = None, on_file: Callable[[], None] | None = None
) -> BandIngestSummary:
    """Attach every file's band structures by structure, one transaction per file (named relative to ``root`` in provenance)."""
    summary = BandIngestSummary()
    for path in files:
        name = str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else path.name
        with Session(engine) as session, session.begin():
            for rejected in _attach(session, path, name, match, summary):
                summary.quarantine(session, path.name, rejected)
        if on_file is not None:
            on_file()
    return summary


def _attach(session: Session, path: Path, name: str, match: Matcher, summary: BandIngestSummary) -> Iterator[Rejected]:
    summary.rows += 1
    try:
        form, structure, found = _read(path)
    except (BandDataError, HarmonizationError, OSError, ValueError) as exc:
        yield Rejected(name, f"unreadable band file: {exc}", name)
        return
    summary.formats[form] = summary.formats.get(form, 0) + 1
    unnamed = [bands for bands in found if bands.method is None]
    if unnamed:
        yield Rejected(name, f"method not stated in the file ({form}): name it in an index CSV row", name)
        return
    for bands in found:
        try:
            check_method(str(bands.method))
        except HarmonizationError as exc:
            yield Rejected(name, str(exc), name)
            return
    matched = match(session, structure)
    if matched.entry_id is None:
        yield Rejected(name, f"not attached: {matched.note}", name)
        return
    for bands in found:
        provenance = {"file": name, "format": form, "attached_by": matched.note, **bands.facts}
        target = Record(source_key="", chemical_formula_reduced="", raw={})
        method = str(bands.method)
        record = BandRecord(entry=target, method=method, fermi_level=bands.fermi_level, segments=bands.segments, provenance=provenance)
        write_bands(session, matched.entry_id, record, summary.bands)


def _read(path: Path) -> tuple[str, Any, list[FileBands]]:
    """(format, structure, band structures) of one file."""
    if _is_c2db_download(path):
        document = json.loads(path.read_text(encoding="utf-8"))
        uid = c2db_download.uid_of(path) or path.stem
        record = c2db_download.document_record(document, uid, path.name)
        found = [FileBands(b.method, b.fermi_level, b.segments, b.facts) for b in band_structures(document)]
        if not found:
            raise BandDataError("the C2DB download holds no band structure")
        return c2db_download.FORMAT, record.structure, found
    form, read = reader_for(path)
    structure_of = STRUCTURE_OF.get(form)
    if structure_of is None:
        raise BandDataError(f"{form} holds no structure to match: attach it with an index CSV row")
    fermi, segments, facts = read(path)
    method = facts.pop("method", None)
    return form, structure_of(path), [FileBands(str(method) if method else None, fermi, segments, facts)]


def _is_c2db_download(path: Path) -> bool:
    with path.open(encoding="utf-8", errors="replace") as handle:
        return c2db_download.looks_like(handle.read(65536))


def _recognised(path: Path) -> bool:
    """Whether ``path`` is a band-structure file atlas2d reads (by name or content)."""
    try:
        reader_for(path)
    except (BandDataError, OSError, UnicodeDecodeError):
        return _is_c2db_download(path)
    return True
