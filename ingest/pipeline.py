"""Run an adapter over files and land its records in the store, batch by batch.

Each batch (good records and rejected ones together) is one transaction, so a run killed
halfway leaves whole batches behind and nothing half-written; because writing is
idempotent (``atlas2d.ingest.store``), running the same command again finishes the job. A source id
seen twice in one run is a broken record (two records cannot both be that entry), so the
second one is quarantined rather than silently overwriting the first.

One writer thread commits batch k while the reader parses batch k + 1: the database's time
and the parser's overlap (psycopg releases the GIL while it waits). At most one batch is in
flight, and batches commit in file order, so a crash still loses only the unfinished ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from atlas2d.ingest.records import Record, Rejected
from atlas2d.ingest.sources import ADAPTERS, Adapter
from atlas2d.ingest.sources.formats import detect
from atlas2d.ingest.store import ensure_source, quarantine, write_records

BATCH_SIZE = 500
"""Records per transaction: large enough to amortise round trips, small enough to lose little."""


@dataclass
class IngestSummary:
    """What one run did for one source; the numbers the CLI prints at the end."""

    source: str
    files: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    formats: dict[str, int] = field(default_factory=dict)
    """Format name -> files read in it, as recognised from each file's content."""

    @property
    def read(self) -> int:
        """Records read from the files, good and bad."""
        return self.inserted + self.updated + self.unchanged + self.quarantined


def ingest_files(
    engine: Engine,
    source: str,
    paths: Iterable[Path],
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Ingest ``paths`` with the adapter named ``source``; ``on_batch(n)`` after each commit."""
    adapter = ADAPTERS[source]
    summary = IngestSummary(source=adapter.source.name)
    seen: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future[None] | None = None
        for path in paths:
            summary.files += 1
            form = detect(source, path)
            summary.formats[form.name] = summary.formats.get(form.name, 0) + 1
            items = _unique_keys(form.read(path), seen)
            while batch := list(islice(items, batch_size)):
                if pending is not None:
                    pending.result()
                pending = writer.submit(_write_batch, engine, adapter, path, batch, summary, on_batch)
        if pending is not None:
            pending.result()
    return summary


def _write_batch(
    engine: Engine,
    adapter: Adapter,
    path: Path,
    batch: list[Record | Rejected],
    summary: IngestSummary,
    on_batch: Callable[[int], None] | None,
) -> None:
    records = [item for item in batch if isinstance(item, Record)]
    rejected = [item for item in batch if isinstance(item, Rejected)]
    with Session(engine) as session, session.begin():
        source_id = ensure_source(session, adapter.source)
        counts = write_records(session, source_id, records, source_file=path.name)
        quarantine(session, adapter.source.name, path.name, rejected)
    summary.inserted += counts.inserted
    summary.updated += counts.updated
    summary.unchanged += counts.unchanged
    summary.quarantined += len(rejected)
    for item in rejected:
        reason = item.reason.split(":")[0]
        summary.reasons[reason] = summary.reasons.get(reason, 0) + 1
    if on_batch is not None:
        on_batch(len(batch))


def _unique_keys(items: Iterator[Record | Rejected], seen: dict[str, str]) -> Iterator[Record | Rejected]:
    """Pass items through, turning a record whose source id was already seen into ``Rejected``."""
    for item in items:
        if isinstance(item, Record):
            first = seen.get(item.source_key)
            if first is not None:
                yield Rejected(
                    locator=item.locator,
                    reason=f"duplicate source id {item.source_key!r} (first at {first})",
                    payload=str(item.raw)[:20000],
                )
                continue
            seen[item.source_key] = item.locator
        yield item
