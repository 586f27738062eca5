"""The preferred value of each served property, kept in ``preferred_value`` by ingest.

The OPTIMADE ``_atlas2d_`` fields serve one value per entry and field: ``band_gap`` is the
most trustworthy band gap (measured, then G0W0, HSE06, PBE, then any other method), the
per-method fields (``band_gap_pbe``…) the value of that method. Choosing at query time cost a
correlated subquery per entry and field, 40-70 ms for a property filter over 5,000 entries;
chosen here once per ingest batch, a filter is an index range scan.

``preferred_value`` has one row per entry (see ``atlas2d.schema.models.PreferredValue``).
``refresh_preferred`` recomputes the rows of the entries the current transaction wrote (an
ingest batch) in one statement: the new choice is upserted, a choice that no longer exists (a
value removed from a re-ingested record) is deleted. Run in the writing transaction, the
choice is never stale, even when a run is killed halfway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

BAND_GAP_PREFERENCE = ("expt", "G0W0", "HSE06", "PBE")
"""Which band gap ``band_gap`` serves when several methods are known: measured first, then
the more accurate calculations; another method only when none of these is known."""


@dataclass(frozen=True)
class Preference:
    """One served field: the property it reads and its methods, best first.

    ``field`` names two columns of ``preferred_value``: ``<field>`` and ``<field>_method``.

    With one method the field is that method's value or nothing (``band_gap_pbe``); with
    several, any other method is a last resort after them (``band_gap``). ``expt`` stands for
    every measured method (``expt`` or ``expt:<technique>``).
    """

    field: str
    property: str
    methods: tuple[str, ...]

    @property
    def exclusive(self) -> bool:
        """Only the named method counts."""
        return len(self.methods) == 1


PREFERENCES: tuple[Preference, ...] = (
    Preference("band_gap", "band_gap", BAND_GAP_PREFERENCE),
    Preference("band_gap_pbe", "band_gap", ("PBE",)),
    Preference("band_gap_hse06", "band_gap", ("HSE06",)),
    Preference("band_gap_g0w0", "band_gap", ("G0W0",)),
    Preference("band_gap_expt", "band_gap", ("expt",)),
    Preference("formation_energy", "formation_energy", ("PBE",)),
)
"""Every field ``preferred_value`` holds, by the name the OPTIMADE field has without its prefix."""


def _rules_sql() -> str:
    """The preferences as a ``VALUES`` list of (field, property, method, rank); method NULL = any other."""
    rows: list[str] = []
    for p in PREFERENCES:
        rows += [f"('{p.field}', '{p.property}', '{m}', {rank})" for rank, m in enumerate(p.methods)]
        if not p.exclusive:
            rows.append(f"('{p.field}', '{p.property}', NULL, {len(p.methods)})")
    return ", ".join(rows)


def _columns() -> list[str]:
    """The table's columns after ``entry_id``: each field's value and method."""
    return [name for p in PREFERENCES for name in (p.field, f"{p.field}_method")]


def _pivot() -> str:
    """Each field's value and method as a column of one row per entry."""
    return ", ".join(
        f"max({part}) FILTER (WHERE field = '{p.field}') AS {p.field}{suffix}"
        for p in PREFERENCES
        for part, suffix in (("value", ""), ("method", "_method"))
    )


REFRESH_SQL = f"""
WITH touched AS (
    SELECT id FROM entry WHERE updated_at >= coalesce(:since, now())
), rules (field, property, method, rank) AS (
    VALUES {_rules_sql()}
), chosen AS (
    SELECT DISTINCT ON (p.entry_id, r.field) p.entry_id, r.field, p.value, p.method
    FROM property p
    JOIN rules r ON p.name = r.property
        AND (r.method IS NULL OR p.method = r.method OR (r.method = 'expt' AND p.method LIKE 'expt%'))
    WHERE p.value IS NOT NULL AND p.entry_id IN (SELECT id FROM touched)
    ORDER BY p.entry_id, r.field, r.rank, p.method
), fresh AS (
    SELECT entry_id, {_pivot()} FROM chosen GROUP BY entry_id
), gone AS (
    DELETE FROM preferred_value v
    WHERE v.entry_id IN (SELECT id FROM touched) AND v.entry_id NOT IN (SELECT entry_id FROM fresh)
)
INSERT INTO preferred_value (entry_id, {", ".join(_columns())})
SELECT entry_id, {", ".join(_columns())} FROM fresh
ON CONFLICT (entry_id) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in _columns())}
"""
"""One statement: the choices of the entries written since ``:since`` (NULL: by this transaction) replace their old ones."""

EVERYTHING = datetime.fromisoformat("0001-01-01T00:00:00+00:00")
"""``since`` that refreshes every entry (the migration's backfill, replicated benchmark stores)."""


def refresh_preferred(connection: Session | Connection, since: datetime | None = None) -> None:
    """Recompute ``preferred_value`` for the entries written (inserted or updated) by the
    current transaction, or since ``since`` (``EVERYTHING``: every entry).

    A write sets ``entry.updated_at`` to its transaction's start, ``now()``, so the entries of
    this transaction are those with ``updated_at >= now()`` (an entry another transaction
    wrote meanwhile may be refreshed too, which is harmless).
    """
    connection.execute(text(REFRESH_SQL), {"since": since})
