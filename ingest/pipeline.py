"""Run an adapter over files and land its records in the store, batch by batch.

Records go through ``Adapter.checked`` (the source contract of ``atlas2d.ingest.sources.base``),
so a record that breaks the contract is quarantined like any broken record. Band records
write their entry and then their band structure (``atlas2d.ingest.band_store``).

Each batch (good records and rejected ones together) is one transaction, so a run killed
halfway leaves whole batches behind and nothing half-written. A batch the database refuses
is written again record by record, each in a savepoint, so one record it refuses (an id
too long for its index, say, where ``atlas2d.ingest.limits`` missed it) is quarantined with the
database's reason and its neighbours are stored; because writing is
idempotent (``atlas2d.ingest.store``), running the same command again finishes the job. A source id
seen twice in one run is a broken record (two records cannot both be that entry), so the
second one is quarantined rather than silently overwriting the first; for an adapter that
combines one entry's parts from several files (``Adapter.combine``), the same id in another
file is another part, and only a repeat within one file is quarantined.

Each batch ends with one set-based statement that chooses the served value of each property
for the entries the batch wrote (``atlas2d.ingest.preferred``), in the batch's transaction:
a run killed at any point leaves no entry whose served values are stale.

One writer thread commits batch k while the reader parses batch k + 1: the database's time
and the parser's overlap (psycopg releases the GIL while it waits). At most one batch is in
flight, and batches commit in file order, so a crash still loses only the unfinished ones.
A run that wrote anything ends with ``ANALYZE``, so the next query is planned for the store's
new size (``atlas2d.schema.database.refresh_statistics``), and a ``VACUUM`` of the tables
OPTIMADE filters read, so their counts can use index-only scans (``vacuum_for_reads``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from atlas2d.ingest.band_records import BandRecord
from atlas2d.ingest.band_store import BandWriteCounts, write_band_records
from atlas2d.ingest.preferred import refresh_preferred
from atlas2d.ingest.records import Record, Rejected
from atlas2d.ingest.sources.base import PAYLOAD_LIMIT, Adapter, Item
from atlas2d.ingest.sources.common import dumps
from atlas2d.ingest.sources.registry import adapter as registered_adapter
from atlas2d.ingest.store import WriteCounts, ensure_source, quarantine, write_records
from atlas2d.schema.database import refresh_statistics, vacuum_for_reads

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
            # An adapter that combines one entry's parts from several files sees an id again in
            # another file as another part: only a repeat within one file is a duplicate.
            items = _unique_keys(adapter.checked(stream, name), {} if adapter.combine is not None else seen)
            while batch := list(islice(items, batch_size)):
                if pending is not None:
                    pending.result()
                pending = writer.submit(_write_batch, engine, adapter, name, batch, summary, on_batch)
        if pending is not None:
            pending.result()
    if summary.inserted or summary.updated:
        with engine.begin() as connection:
            refresh_statistics(connection)
        vacuum_for_reads(engine)
    return summary


def _write_batch(
    engine: Engine,
    adapter: Adapter,
    source_file: str,
    batch: list[Item],
    summary: IngestSummary,
    on_batch: Callable[[int], None] | None,
) -> None:
    """Write one batch in one transaction; when the database refuses it, write it record by record.

    The second pass gives each record a savepoint, so the records the database takes are
    stored and each one it refuses is quarantined with the database's reason, in the same
    transaction. A lost connection is no record's fault and ends the run.
    """
    try:
        outcome = _write_together(engine, adapter, source_file, batch)
    except CONNECTION_ERRORS:
        raise
    except Exception:  # noqa: BLE001 - one record the database refuses must not take its batch with it
        outcome = _write_one_by_one(engine, adapter, source_file, batch)
    summary.inserted += outcome.counts.inserted
    summary.updated += outcome.counts.updated
    summary.unchanged += outcome.counts.unchanged
    summary.bands.add(outcome.bands)
    summary.quarantined += len(outcome.rejected)
    for item in outcome.rejected:
        reason = item.reason.split(":")[0]
        summary.reasons[reason] = summary.reasons.get(reason, 0) + 1
    if on_batch is not None:
        on_batch(len(batch))


CONNECTION_ERRORS = (OperationalError, InterfaceError)
"""Database errors that say the connection or server failed, not that a record was refused."""


@dataclass
class _Outcome:
    """What one batch did: entries and band structures written, records quarantined."""

    counts: WriteCounts = field(default_factory=WriteCounts)
    bands: BandWriteCounts = field(default_factory=BandWriteCounts)
    rejected: list[Rejected] = field(default_factory=list)

    def add(self, counts: WriteCounts, bands: BandWriteCounts) -> None:
        self.counts.inserted += counts.inserted
        self.counts.updated += counts.updated
        self.counts.unchanged += counts.unchanged
        self.bands.add(bands)


def _write_together(engine: Engine, adapter: Adapter, source_file: str, batch: list[Item]) -> _Outcome:
    outcome = _Outcome(rejected=[item for item in batch if isinstance(item, Rejected)])
    with Session(engine) as session, session.begin():
        source_id = ensure_source(session, adapter.source)
        outcome.add(*_write_items(session, adapter, source_id, source_file, batch))
        quarantine(session, adapter.source.name, source_file, outcome.rejected)
        refresh_preferred(session)
    return outcome


def _write_one_by_one(engine: Engine, adapter: Adapter, source_file: str, batch: list[Item]) -> _Outcome:
    outcome = _Outcome()
    with Session(engine) as session, session.begin():
        source_id = ensure_source(session, adapter.source)
        for item in batch:
            if isinstance(item, Rejected):
                outcome.rejected.append(item)
                continue
            try:
                with session.begin_nested():
                    written = _write_items(session, adapter, source_id, source_file, [item])
            except CONNECTION_ERRORS:
                raise
            except Exception as exc:  # noqa: BLE001 - the database's reason becomes the quarantine reason
                outcome.rejected.append(_refused(item, exc))
                continue
            outcome.add(*written)
        quarantine(session, adapter.source.name, source_file, outcome.rejected)
        refresh_preferred(session)
    return outcome


def _write_items(
    session: Session, adapter: Adapter, source_id: int, source_file: str, items: list[Item]
) -> tuple[WriteCounts, BandWriteCounts]:
    records = [item for item in items if isinstance(item, Record)]
    band_records = [item for item in items if isinstance(item, BandRecord)]
    counts = write_records(session, source_id, records, source_file=source_file, combine=adapter.combine)
    entry_counts, bands = write_band_records(session, source_id, band_records, source_file=source_file, combine=adapter.combine)
    counts.inserted += entry_counts.inserted
    counts.updated += entry_counts.updated
    counts.unchanged += entry_counts.unchanged
    return counts, bands


def _refused(item: Record | BandRecord, exc: Exception) -> Rejected:
    """A record the database (or the writer) refused, with the reason it gave."""
    entry = item.entry if isinstance(item, BandRecord) else item
    cause = getattr(exc, "orig", None) or exc
    message = (str(cause).strip().splitlines() or [""])[0]
    return Rejected(
        locator=entry.locator,
        reason=f"refused by the database: {type(cause).__name__}: {message}",
        payload=dumps(entry.raw)[:PAYLOAD_LIMIT],
    )


def _unique_keys(items: Iterator[Item], seen: dict[str, str]) -> Iterator[Item]:
    """Pass items through, turning a record whose source id was already seen into ``Rejected``.

    ``seen`` maps each source id to where it was first found: the locator alone, since keeping
    the records (raw form, arrays, values) held 16 kB a record for the whole run, 1.7 GB at
    100,000. Band records that share one entry object, which a download yields one after
    another (its bands without and with spin-orbit), are that one entry, not duplicates.
    """
    previous: Record | None = None
    for item in items:
        entry = item.entry if isinstance(item, BandRecord) else item
        if isinstance(entry, Record):
            first = seen.get(entry.source_key)
            if first is not None and not (entry is previous and isinstance(item, BandRecord)):
                yield Rejected(
                    locator=entry.locator,
                    reason=f"duplicate source id {entry.source_key!r} (first at {first})",
                    payload=dumps(entry.raw)[:PAYLOAD_LIMIT],
                )
                continue
            seen[entry.source_key] = entry.locator
            previous = entry
        yield item
