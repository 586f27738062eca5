"""Run an adapter over files and land its records in the store, batch by batch.

Records go through ``Adapter.checked`` (the source contract of ``atlas2d.ingest.sources.base``),
so a record that breaks the contract is quarantined like any broken record. Band records
write their entry and then their band structure (``atlas2d.ingest.band_store``).

Each batch (good records and rejected ones together) is one transaction, so a run killed
halfway leaves whole batches behind and nothing half-written; because writing is
idempotent (``atlas2d.ingest.store``), running the same command again finishes the job. A source id
seen twice in one run is a broken record (two records cannot both be that entry), so the
second one is quarantined rather than silently overwriting the first.

Each batch ends with one set-based statement that chooses the served value of each property
for the entries the batch wrote (``atlas2d.ingest.preferred``), in the batch's transaction:
a run killed at any point leaves no entry whose served values are stale.

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

from atlas2d.ingest.band_records import BandRecord
from atlas2d.ingest.band_store import BandWriteCounts, write_band_records
from atlas2d.ingest.preferred import refresh_preferred
from atlas2d.ingest.records import Record, Rejected
from atlas2d.ingest.sources.base import Adapter, Item
from atlas2d.ingest.sources.registry import adapter as registered_adapter
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
    bands: BandWriteCounts = field(default_factory=BandWriteCounts)
    """What the run did to band structures (sources that yield ``BandRecord``)."""
    formats: dict[str, int] = field(default_factory=dict)
    """Format name -> files read in it, as recognised from each file's content (``Adapter.format_of``)."""

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
    """Ingest ``paths`` with the adapter registered as ``source``; ``on_batch(n)`` after each commit.

    An unknown or unusable source raises ``atlas2d.ingest.sources.registry.SourceError``.
    """
    adapter = registered_adapter(source)
    summary = ingest_streams(engine, adapter, ((path.name, adapter.read(path)) for path in paths), batch_size, on_batch)
    for path in paths:
        name = adapter.format_of(path)
        summary.formats[name] = summary.formats.get(name, 0) + 1
    return summary


def ingest_streams(
    engine: Engine,
    adapter: Adapter,
    streams: Iterable[tuple[str, Iterator[Item]]],
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Ingest ``(file name, items)`` streams of ``adapter``: ``read(path)`` of files, or items made
    another way (``atlas2d fingerprint generate``), recorded under that file name."""
    summary = IngestSummary(source=adapter.source.name)
    seen: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future[None] | None = None
        for name, stream in streams:
            summary.files += 1
            items = _unique_keys(adapter.checked(stream, name), seen)
            while batch := list(islice(items, batch_size)):
                if pending is not None:
                    pending.result()
                pending = writer.submit(_write_batch, engine, adapter, name, batch, summary, on_batch)
        if pending is not None:
            pending.result()
    return summary


def _write_batch(
    engine: Engine,
    adapter: Adapter,
    source_file: str,
    batch: list[Item],
    summary: IngestSummary,
    on_batch: Callable[[int], None] | None,
) -> None:
    records = [item for item in batch if isinstance(item, Record)]
    band_records = [item for item in batch if isinstance(item, BandRecord)]
    rejected = [item for item in batch if isinstance(item, Rejected)]
    with Session(engine) as session, session.begin():
        source_id = ensure_source(session, adapter.source)
        counts = write_records(session, source_id, records, source_file=source_file)
        entry_counts, band_counts = write_band_records(session, source_id, band_records, source_file=source_file)
        quarantine(session, adapter.source.name, source_file, rejected)
        refresh_preferred(session)
    summary.inserted += counts.inserted + entry_counts.inserted
    summary.updated += counts.updated + entry_counts.updated
    summary.unchanged += counts.unchanged + entry_counts.unchanged
    summary.bands.add(band_counts)
    summary.quarantined += len(rejected)
    for item in rejected:
        reason = item.reason.split(":")[0]
        summary.reasons[reason] = summary.reasons.get(reason, 0) + 1
    if on_batch is not None:
        on_batch(len(batch))


def _unique_keys(items: Iterator[Item], seen: dict[str, str]) -> Iterator[Item]:
    """Pass items through, turning a record whose source id was already seen into ``Rejected``."""
    for item in items:
        entry = item.entry if isinstance(item, BandRecord) else item
        if isinstance(entry, Record):
            first = seen.get(entry.source_key)
            if first is not None:
                yield Rejected(
                    locator=entry.locator,
                    reason=f"duplicate source id {entry.source_key!r} (first at {first})",
                    payload=str(entry.raw)[:20000],
                )
                continue
            seen[entry.source_key] = entry.locator
        yield item
