"""The contract between atlas2d and a source adapter.

An adapter is one ``Adapter`` object: the ``SourceInfo`` its records are stored under, a
line saying which files it reads (``atlas2d ingest --help`` shows it) and ``read(path)``.
It is registered under its source name in the ``atlas2d.sources`` entry-point group (see
``atlas2d.ingest.sources.registry``), so a package outside atlas2d adds a source with one
module and one line in its ``pyproject.toml``.

``read(path)`` yields, for one file:

- ``Record``: a good record, harmonized (``atlas2d.ingest.harmonize``, ``geometry``,
  ``formulas``), with its raw form verbatim;
- ``BandRecord``: a band structure with the ``Record`` of the entry it belongs to;
- ``Rejected``: a record that cannot be ingested, with the reason and its text as read.

It only reads (the file is left as it was) and never raises: a bad record becomes a
``Rejected`` (``common.attempt`` does that for one record), and so does a file that cannot
be read at all, so one broken record never stops a run over thousands. Every yielded item
names where it came from with a locator:

- ``<file>:<line>`` for line-oriented formats (JSON lines, CSV), lines counted from 1;
- ``<file>[<index>]`` for an item of a JSON array, counted from 0;
- ``<file>#<key>`` for a keyed row (an ASE database row id, a generated model's key);
- ``<file>`` for the file as a whole (unreadable, empty, a wrong header).

Records that atlas2d built itself (constructed in a source's layout, or generated from a
model) are never passed off as a database's data: their adapter says ``constructed=True``,
its source name and title say so, and every such record's raw form carries
``CONSTRUCTED_MARK`` with a sentence on what it is. ``Adapter.checked`` enforces both
directions, so a constructed record cannot enter under a real source's name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlas2d.ingest.band_records import BandDataError, BandRecord, validate_segments
from atlas2d.ingest.limits import check_record
from atlas2d.ingest.records import HarmonizationError, Record, Rejected, SourceInfo
from atlas2d.ingest.sources.common import dumps
from atlas2d.ingest.sources.formats import Format, detect
from atlas2d.ingest.vocabulary import check_method

Item = Record | BandRecord | Rejected
"""What ``read`` yields."""

CONSTRUCTED_MARK = "_atlas2d_constructed"
"""Key of the raw record of everything atlas2d built itself; its value says what the record is."""

PAYLOAD_LIMIT = 20000
"""Characters of a record kept as the quarantine payload when ``checked`` rejects it."""


@dataclass(frozen=True)
class Adapter:
    """A source and the reader of its files (one format, or several told apart by content)."""

    source: SourceInfo
    """What the ``source`` table records; ``source.name`` is the name ``atlas2d ingest`` takes."""
    formats: str
    """The files ``read`` takes, in a few words (shown by ``atlas2d ingest --help``)."""
    read: Callable[[Path], Iterator[Item]]
    """Every record of one file as ``Record``, ``BandRecord`` or ``Rejected``; never raises."""
    constructed: bool = False
    """Whether the records are built by atlas2d rather than read from a published source."""
    mapped_fields: frozenset[str] | None = None
    """The raw record's top-level fields ``read`` turns into the entry or a value (``None``: not
    declared); every other field is kept in ``entry.raw`` and listed by ``atlas2d status --unmapped``."""
    file_formats: tuple[Format, ...] = ()
    """For a source published in several formats: the formats ``read`` tells apart by content
    (``atlas2d.ingest.sources.formats.dispatch``), most specific first. Empty for one format."""
    combine: Callable[[dict[str, Any], Record], Record] | None = None
    """For a source whose formats each hold part of one entry (C2DB's web table and its
    per-material download): given the stored raw record of the entry and a new record of the
    same key, the record to store instead, holding both parts. ``None``: a new raw record
    replaces the stored one."""

    @property
    def name(self) -> str:
        """The source name: the entry-point name and the argument of ``atlas2d ingest``."""
        return self.source.name

    def format_of(self, path: Path) -> str:
        """The name of the format ``read`` reads ``path`` in (the ingest summary shows it)."""
        return detect(self.file_formats, path).name if self.file_formats else self.formats

    def checked(self, items: Iterator[Item], file_name: str) -> Iterator[Item]:
        """``items`` (what ``read`` yields for the file ``file_name``) with the contract enforced,
        as the ingest pipeline consumes them.

        A record that breaks the contract (a constructed record under a real source or the
        other way round, a record outside the limits of ``atlas2d.ingest.limits``, an invalid
        band structure, a method outside the vocabulary, an object of another type) becomes
        a ``Rejected``; an exception that escapes the reader, which is a bug in the adapter,
        ends the file with one ``Rejected`` naming it instead of ending the run.
        """
        try:
            for item in items:
                yield self._check(item, file_name)
        except Exception as exc:  # noqa: BLE001 - an adapter bug must not stop the other files
            reason = f"the {self.name} reader failed (an adapter bug): {type(exc).__name__}: {exc}"
            yield Rejected(locator=file_name, reason=reason, payload="")

    def _check(self, item: object, file_name: str) -> Item:
        if isinstance(item, Rejected):
            return item
        entry = item.entry if isinstance(item, BandRecord) else item
        if not isinstance(entry, Record):
            reason = f"the {self.name} reader yielded a {type(item).__name__}, not a record"
            return Rejected(locator=file_name, reason=reason, payload=repr(item)[:PAYLOAD_LIMIT])
        marked = CONSTRUCTED_MARK in entry.raw
        if marked and not self.constructed:
            return _rejected(entry, f"a constructed record is not {self.name} data (it carries {CONSTRUCTED_MARK!r})")
        if self.constructed and not marked:
            return _rejected(entry, f"a record of the constructed source {self.name} must carry {CONSTRUCTED_MARK!r}")
        try:
            check_record(entry)
        except HarmonizationError as exc:
            return _rejected(entry, str(exc))
        if isinstance(item, BandRecord):
            try:
                validate_segments(item.segments)
                check_method(item.method)
            except (BandDataError, HarmonizationError) as exc:
                return _rejected(entry, f"invalid band structure: {exc}")
        return item


def _rejected(entry: Record, reason: str) -> Rejected:
    return Rejected(locator=entry.locator, reason=reason, payload=dumps(entry.raw)[:PAYLOAD_LIMIT])
