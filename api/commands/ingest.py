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
            help=f"Which adapter reads the files. {sources_help()}; {BANDS}: index CSVs of band-structure files (a folder: its index.csv)."
        ),
    ],
    paths: Annotated[list[Path], typer.Argument(help="Files to read (a folder means every file in it).")],
    batch_size: Annotated[int, typer.Option(min=1, help="Records per transaction.")] = BATCH_SIZE,
) -> None:
    """Ingest source files: harmonize every record, quarantine bad ones with a reason.

    Sources are the adapters registered in the atlas2d.sources entry-point group (atlas2d's
    own and any installed package's); 'tight-binding-generated' takes a model spec and
    stores generated band structures; 'bands' takes index CSVs naming band-structure files
    (VASP vasprun.xml or EIGENVAL, ASE band JSON) and the entries they belong to.

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
    """``atlas2d ingest bands INDEX.csv…``: band-structure files attached to their entries by an index CSV."""
    try:
        indexes = index_files(paths)
    except BandDataError as exc:
        fail(str(exc))
    with open_store(settings_of(ctx)) as session:
        for index in indexes:
            with progress() as bar:
                task = bar.add_task(f"bands {index.name}", total=None)
                try:
                    summary = ingest_index(session.get_bind(), index, on_row=lambda: bar.advance(task))
                except (BandDataError, OSError) as exc:
                    fail(str(exc))
            bands = summary.bands
            print_table(
                ["index", "formats", "rows", "attached", "updated", "already present", "quarantined"],
                [
                    (index.name, ", ".join(summary.formats), summary.rows)
                    + (bands.inserted, bands.updated, bands.unchanged, summary.quarantined)
                ],
                title="Band-structure ingest",
            )
            if summary.reasons:
                print_table(["quarantine reason", "rows"], sorted(summary.reasons.items(), key=lambda r: -r[1]))


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
