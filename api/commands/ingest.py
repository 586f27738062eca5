"""``atlas2d ingest SOURCE PATH…``: read source files into the store and say what happened."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from atlas2d.api.console import console, fail, print_table, progress
from atlas2d.ingest.pipeline import BATCH_SIZE, IngestSummary, ingest_files
from atlas2d.ingest.sources import ADAPTERS
from atlas2d.schema.database import DatabaseError, make_engine

SOURCES_HELP = "; ".join(f"{name}: {adapter.formats}" for name, adapter in ADAPTERS.items())


def ingest(
    source: Annotated[
        str, typer.Argument(help=f"Which adapter reads the files. {SOURCES_HELP}; bands: an index CSV of band-structure files.")
    ],
    paths: Annotated[list[Path], typer.Argument(help="Files to read (a folder means every file in it).")],
    batch_size: Annotated[int, typer.Option(min=1, help="Records per transaction.")] = BATCH_SIZE,
) -> None:
    """Ingest source files: harmonize every record, quarantine bad ones with a reason.

    Safe to repeat: unchanged records are skipped, changed ones update their entry and keep
    the previous raw record as a revision. Each batch is one transaction, so an interrupted
    run leaves a consistent store and running the command again completes it.
    """
    if source == "bands":
        ingest_bands(paths)
        return
    if source not in ADAPTERS:
        fail(f"unknown source {source!r}: choose one of {', '.join(ADAPTERS)}")
    files = expand(paths)
    try:
        summary = run_ingest(source, files, batch_size)
    except (DatabaseError, DBAPIError) as exc:
        fail(f"{str(exc).splitlines()[0]} (did you run 'atlas2d init'?)")
    print_summaries([summary])


def ingest_bands(paths: list[Path]) -> None:
    """``atlas2d ingest bands INDEX.csv…``: band-structure files attached to their entries by an index CSV."""
    from atlas2d.ingest.band_records import BandDataError
    from atlas2d.ingest.bandfiles.index import index_files, ingest_index

    engine = make_engine()
    try:
        for index in index_files(paths):
            with progress() as bar:
                task = bar.add_task(f"bands {index.name}", total=None)
                summary = ingest_index(engine, index, on_row=lambda: bar.advance(task))
            counts = summary.counts
            print_table(
                ["index", "formats", "rows", "attached", "updated", "already present", "quarantined"],
                [
                    (index.name, ", ".join(summary.formats), summary.rows)
                    + (counts.inserted, counts.updated, counts.unchanged, counts.quarantined)
                ],
                title="Band-structure ingest",
            )
            if summary.reasons:
                print_table(["quarantine reason", "rows"], sorted(summary.reasons.items(), key=lambda r: -r[1]))
    except (BandDataError, OSError) as exc:
        fail(str(exc))
    except (DatabaseError, DBAPIError) as exc:
        fail(f"{str(exc).splitlines()[0]} (did you run 'atlas2d init'?)")
    finally:
        engine.dispose()


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


def run_ingest(source: str, files: list[Path], batch_size: int = BATCH_SIZE) -> IngestSummary:
    """Ingest ``files`` with a progress bar counting records."""
    engine = make_engine()
    with progress() as bar:
        task = bar.add_task(f"ingest {source}", total=None)
        summary = ingest_files(engine, source, files, batch_size, on_batch=lambda n: bar.advance(task, n))
        bar.update(task, total=summary.read, completed=summary.read)
    engine.dispose()
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
    reasons = [(s.source, reason, n) for s in summaries for reason, n in sorted(s.reasons.items(), key=lambda r: -r[1])]
    if reasons:
        print_table(["source", "quarantine reason", "records"], reasons[:20], title="Quarantined (see: atlas2d sql 'SELECT * FROM quarantine')")
    else:
        console.print("nothing quarantined")
