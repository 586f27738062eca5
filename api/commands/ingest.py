"""``atlas2d ingest SOURCE PATH…``: read source files into the store and say what happened."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from atlas2d.api.console import console, fail, print_table, progress
from atlas2d.api.store_access import open_store, settings_of
from atlas2d.ingest.band_records import BandDataError
from atlas2d.ingest.bandfiles.index import index_files, ingest_index
from atlas2d.ingest.bandfiles.loose import attach_files, band_files
from atlas2d.ingest.pipeline import BATCH_SIZE, IngestSummary, ingest_files
from atlas2d.ingest.sources.registry import SourceError, registry

BANDS = "bands"
"""The ``source`` argument that reads band-structure index CSVs instead of a source's files."""


def sources_help() -> str:
    """The registered sources and what each reads; registered ones that cannot load, with why."""
    sources = registry()
    lines = [f"{name}: {adapter.formats}" for name, adapter in sources.adapters.items()]
    lines += [f"{name}: unusable ({why})" for name, why in sources.broken.items()]
    return "; ".join(lines)


def ingest(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help=f"Which adapter reads the files. {sources_help()}; "
            f"{BANDS}: band-structure files, by an index CSV (a folder: its index.csv) or by structure."
        ),
    ],
    paths: Annotated[list[Path], typer.Argument(help="Files to read (a folder means every file in it).")],
    batch_size: Annotated[int, typer.Option(min=1, help="Records per transaction.")] = BATCH_SIZE,
) -> None:
    """Ingest source files: harmonize every record, quarantine bad ones with a reason.

    Sources are the adapters registered in the atlas2d.sources entry-point group (atlas2d's
    own and any installed package's); 'tight-binding-generated' takes a model spec and
    stores generated band structures; 'bands' takes band-structure files (VASP vasprun.xml or
    EIGENVAL, ASE band JSON, Quantum ESPRESSO bands.x filband, Questaal bnds, C2DB downloads):
    an index CSV names each file's entry and method, and any other file or folder is attached
    to the stored entry its structure matches (dedup's PDD EMD tolerance, one material only).

    Safe to repeat: unchanged records are skipped, changed ones update their entry and keep
    the previous raw record as a revision. Each batch is one transaction, so an interrupted
    run leaves a consistent store and running the command again completes it.
    """
    if source == BANDS:
        ingest_bands(ctx, paths)
        return
    try:
        registry().adapter(source)
    except SourceError as exc:
        fail(str(exc))
    files = expand(paths)
    with open_store(settings_of(ctx)) as session:
        summary = run_ingest(session.get_bind(), source, files, batch_size)
    print_summaries([summary])


def ingest_bands(ctx: typer.Context, paths: list[Path]) -> None:
    """``atlas2d ingest bands PATH…``: band-structure files attached by an index CSV, or by their structure.

    An index CSV (or a folder holding ``index.csv``) names each file's entry; any other file
    or folder is read file by file, and each is attached to the stored entry its structure
    matches within the dedup tolerance.
    """
    from atlas2d.embeddings.structure.match import match_stored

    indexed = [p for p in paths if p.suffix.lower() == ".csv" or (p / "index.csv").is_file()]
    loose = [p for p in paths if p not in indexed]
    missing = [p for p in loose if not p.exists()]
    if missing:
        fail(f"no such file or folder: {missing[0]}")
    try:
        indexes = index_files(indexed)
    except BandDataError as exc:
        fail(str(exc))
    files = band_files(loose)
    if loose and not files:
        fail(f"no band-structure file atlas2d reads in {', '.join(map(str, loose))}")
    rows = []
    with open_store(settings_of(ctx)) as session:
        engine = session.get_bind()
        for index in indexes:
            with progress() as bar:
                task = bar.add_task(f"bands {index.name}", total=None)
                try:
                    summary = ingest_index(engine, index, on_row=lambda: bar.advance(task))
                except (BandDataError, OSError) as exc:
                    fail(str(exc))
            rows.append((index.name, "index CSV", summary))
        if files:
            root = loose[0] if len(loose) == 1 and loose[0].is_dir() else None
            with progress() as bar:
                task = bar.add_task("bands by structure", total=len(files))
                summary = attach_files(engine, files, match_stored, root=root, on_file=lambda: bar.advance(task))
            rows.append((f"{len(files)} file(s)", "structure match", summary))
    print_table(
        ["input", "attached by", "formats", "files or rows", "attached", "updated", "already present", "quarantined"],
        [
            (name, how, ", ".join(s.formats), s.rows, s.bands.inserted, s.bands.updated, s.bands.unchanged, s.quarantined)
            for name, how, s in rows
        ],
        title="Band-structure ingest",
    )
    reasons = [(name, reason, n) for name, _, s in rows for reason, n in sorted(s.reasons.items(), key=lambda r: -r[1])]
    if reasons:
        title = "Quarantined (see: atlas2d sql 'SELECT * FROM quarantine')"
        print_table(["input", "quarantine reason", "files or rows"], reasons, title=title)


def expand(paths: list[Path]) -> list[Path]:
    """Files named by ``paths`` (folders expanded, PROVENANCE/FORMAT notes left out); fail on a missing one."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix != ".md" and p.suffix != ".py")
        elif path.is_file():
            files.append(path)
        else:
            fail(f"no such file or folder: {path}")
    if not files:
        fail("no files to ingest")
    return files


def run_ingest(engine: Engine, source: str, files: list[Path], batch_size: int = BATCH_SIZE) -> IngestSummary:
    """Ingest ``files`` into the store of ``engine`` with a progress bar counting records."""
    with progress() as bar:
        task = bar.add_task(f"ingest {source}", total=None)
        summary = ingest_files(engine, source, files, batch_size, on_batch=lambda n: bar.advance(task, n))
        bar.update(task, total=summary.read, completed=summary.read)
    return summary


def print_summaries(summaries: list[IngestSummary]) -> None:
    """The end-of-run table per source, and the most common quarantine reasons."""
    print_table(
        ["source", "format", "files", "read", "ingested", "updated", "already present", "quarantined"],
        [
            (s.source, ", ".join(s.formats), s.files, s.read, s.inserted, s.updated, s.unchanged, s.quarantined)
            for s in summaries
        ],
        title="Ingest summary",
    )
    for s in summaries:
        if s.bands.inserted or s.bands.updated or s.bands.unchanged:
            console.print(f"{s.source} band structures: {s.bands.inserted} new, {s.bands.updated} changed, {s.bands.unchanged} unchanged")
    reasons = [(s.source, reason, n) for s in summaries for reason, n in sorted(s.reasons.items(), key=lambda r: -r[1])]
    if reasons:
        title = "Quarantined (see: atlas2d sql 'SELECT * FROM quarantine')"
        print_table(["source", "quarantine reason", "records"], reasons[:20], title=title)
    else:
        console.print("nothing quarantined")
