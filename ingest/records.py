"""The shape every source adapter hands to the store.

Adapters read a source's own format and yield ``Record`` (a good record, harmonized) or
``Rejected`` (a record that cannot be ingested, with the reason). pymatgen ``Structure`` is
the one in-memory currency for structures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymatgen.core import Structure


@dataclass(frozen=True)
class SourceInfo:
    """What the ``source`` table records about a database or data set."""

    name: str
    title: str
    version: str | None = None
    license: str | None = None
    url: str | None = None
    citation: str | None = None


@dataclass(frozen=True)
class Value:
    """One harmonized property value (names and units: ``ingest.harmonize``)."""

    name: str
    value: float | None
    unit: str | None
    method: str
    source_field: str | None = None
    value_text: str | None = None
    conditions: dict[str, Any] | None = None
    reference: str | None = None


@dataclass
class Record:
    """One good source record, harmonized, with its raw form kept verbatim."""

    source_key: str
    chemical_formula_reduced: str
    raw: dict[str, Any]
    structure: Structure | None = None
    values: list[Value] = field(default_factory=list)
    locator: str = ""
    prototype: str | None = None


@dataclass
class Rejected:
    """A record that failed parsing or validation; it goes to quarantine, never lost."""

    locator: str
    reason: str
    payload: str
