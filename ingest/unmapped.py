"""Raw fields that no adapter maps: what ``atlas2d status --unmapped`` lists.

Every record is stored whole in ``entry.raw``, and each adapter declares the top-level fields
it turns into the entry or a value (``Adapter.mapped_fields``). The rest (a C2DB column
atlas2d has no property for, a new field a source added) is kept but not queryable as a
value; listing it per source, with how many entries carry it, shows what a release of a
source brought that the vocabulary does not yet cover.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from atlas2d.ingest.sources.registry import Registry

RAW_KEYS = text(
    """
    SELECT s.name AS source, k.key AS field, count(*) AS entries
    FROM entry e
    JOIN source s ON s.id = e.source_id
    CROSS JOIN LATERAL jsonb_object_keys(CASE WHEN jsonb_typeof(e.raw) = 'object' THEN e.raw ELSE '{}'::jsonb END) AS k(key)
    GROUP BY s.name, k.key
    ORDER BY s.name, count(*) DESC, k.key
    """
)


@dataclass(frozen=True)
class UnmappedField:
    """A raw field of one source's stored entries that its adapter does not map."""

    source: str
    field: str
    entries: int


@dataclass
class UnmappedReport:
    """The unmapped fields, and the stored sources whose adapter declares no mapped fields (or is not installed)."""

    fields: list[UnmappedField]
    undeclared: list[str]


def unmapped_fields(session: Session, sources: Registry) -> UnmappedReport:
    """Every top-level raw field, per source in the store, that the source's adapter leaves unmapped."""
    report = UnmappedReport(fields=[], undeclared=[])
    for source, field, entries in session.execute(RAW_KEYS):
        adapter = sources.adapters.get(source)
        if adapter is None or adapter.mapped_fields is None:
            if source not in report.undeclared:
                report.undeclared.append(source)
        elif field not in adapter.mapped_fields:
            report.fields.append(UnmappedField(source, field, entries))
    return report
