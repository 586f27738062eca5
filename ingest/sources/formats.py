"""One source, several file formats: each file's format recognised from its content.

A database publishes its data in more than one shape (C2DB's web-table CSV, its per-material
downloads and ASE database rows; MC2D's v4 structure list, the campi-v2 list and Discover's
compounds file). The source name stays one (``atlas2d ingest c2db FILE…``) and its adapter's
``read`` is ``dispatch(FORMATS)``: the first characters of each file pick the reader, the last
format of the tuple being the fallback, and the ingest summary names the format each file
was read in (``Adapter.format_of``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from atlas2d.ingest.sources.base import Item

HEAD_CHARS = 65536
"""Characters read to recognise a format: enough for a first record's keys."""


@dataclass(frozen=True)
class Format:
    """One file format of a source: its name, how to recognise it, how to read it."""

    name: str
    """Shown in the ingest summary (``C2DB web-table CSV``)."""
    looks_like: Callable[[str], bool]
    """Whether a file's first ``HEAD_CHARS`` characters are this format."""
    read: Callable[[Path], Iterator[Item]]
    """The format's reader, under the same contract as ``Adapter.read``."""


def always(_head: str) -> bool:
    """``looks_like`` of a fallback format: whatever no other format recognised."""
    return True


def detect(formats: tuple[Format, ...], path: Path) -> Format:
    """The format of ``path`` among ``formats`` (the last one when none is recognised or the file cannot be opened)."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            head = handle.read(HEAD_CHARS)
    except OSError:
        return formats[-1]
    return next((f for f in formats if f.looks_like(head)), formats[-1])


def dispatch(formats: tuple[Format, ...]) -> Callable[[Path], Iterator[Item]]:
    """A ``read`` that reads each file with the reader of its recognised format."""

    def read(path: Path) -> Iterator[Item]:
        return detect(formats, path).read(path)

    return read
