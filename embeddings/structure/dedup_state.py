"""What the last dedup ran with, and whether the next one may only add what is new.

An incremental dedup joins the structures stored since the last run to the stored clusters.
That equals a full run only when the stored clusters were made from the same inputs: the
same tolerance and neighbour count, the same curators' overrides, the same invariants, and
every structure clustered then still stored as it was. ``why_full`` checks each of those
against the ``dedup_state`` row and says which one fails; ``save`` writes the row, and the
per-structure kNN radii and confirmed pairs the next run starts from, at the end of a run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, any_, bindparam, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from atlas2d.embeddings.structure.invariants import INVARIANTS_VERSION
from atlas2d.schema.models import DedupNeighbourhood, DedupPair, DedupState, Structure


@dataclass(frozen=True)
class Inputs:
    """What a dedup run clusters with, besides the structures."""

    tolerance: float
    neighbours: int
    overrides: Sequence[tuple[int, int, str]]

    @property
    def overrides_sha256(self) -> str:
        """One digest of every override, so that any change to them shows."""
        canonical = "\n".join(f"{a} {b} {action}" for a, b, action in sorted(self.overrides))
        return hashlib.sha256(canonical.encode()).hexdigest()


def why_full(session: Session, inputs: Inputs) -> str | None:
    """Why this run must recompute every cluster, or ``None`` when it may only add the new structures.

    Reads one row and counts ``dedup_neighbourhood`` (a narrow table, one row per clustered
    structure, which loses the row of a structure deleted or replaced since: its foreign key
    cascades) and the structures (an entry stored before the last run that has gained a
    structure since is neither clustered nor new).
    """
    state = session.get(DedupState, 1)
    if state is None:
        return "no earlier dedup recorded"
    if state.tolerance != inputs.tolerance:
        return f"tolerance changed ({state.tolerance:g} -> {inputs.tolerance:g} Å)"
    if state.neighbours != inputs.neighbours:
        return f"neighbour count changed ({state.neighbours} -> {inputs.neighbours})"
    if state.overrides_sha256 != inputs.overrides_sha256:
        return "curator overrides changed"
    if state.invariants_version != INVARIANTS_VERSION:
        return "invariants recomputed by another definition"
    clustered = session.execute(select(func.count()).select_from(DedupNeighbourhood)).scalar_one()
    if clustered != state.structures:
        return f"{state.structures - clustered} clustered structures were removed or replaced"
    stored = session.execute(select(func.count()).select_from(Structure)).scalar_one()
    new = session.execute(select(func.count()).select_from(Structure).where(Structure.entry_id > state.last_entry_id)).scalar_one()
    if stored != clustered + new:
        return f"{stored - clustered - new} structures of entries older than the last run are not clustered"
    return None


def new_structures(session: Session, after: int) -> list[int]:
    """Entry ids of the structures stored after the last run (entry ids only grow: above ``after``), by the primary key's index."""
    query = select(Structure.entry_id).where(Structure.entry_id > after, Structure.amd.is_not(None)).order_by(Structure.entry_id)
    return list(session.execute(query).scalars())


def save_full(session: Session, inputs: Inputs, radii: Mapping[int, float], pairs: Sequence[tuple[float, int, int]]) -> None:
    """Replace the whole record of the run: every structure's radius (``inf`` without neighbours), every confirmed pair."""
    session.execute(delete(DedupPair))
    session.execute(delete(DedupNeighbourhood))
    session.execute(
        text(
            "INSERT INTO dedup_neighbourhood (entry_id, radius)"
            " SELECT s.entry_id, coalesce(r.radius, 'Infinity') FROM structure s"
            " LEFT JOIN unnest(CAST(:ids AS integer[]), CAST(:radii AS double precision[])) AS r(entry_id, radius)"
            " ON r.entry_id = s.entry_id WHERE s.amd IS NOT NULL"
        ),
        {"ids": list(radii), "radii": list(radii.values())},
    )
    add_pairs(session, pairs)
    _save_state(session, inputs)


def save_incremental(
    session: Session,
    inputs: Inputs,
    radii: Mapping[int, float],
    dropped: Sequence[tuple[int, int]],
    pairs: Sequence[tuple[float, int, int]],
) -> None:
    """Record an incremental run: radii of the new structures and of the old ones whose kNN they entered, pair changes."""
    if dropped:
        session.execute(
            text(
                "DELETE FROM dedup_pair p USING unnest(CAST(:a AS integer[]), CAST(:b AS integer[])) AS d(a, b)"
                " WHERE p.entry_a_id = d.a AND p.entry_b_id = d.b"
            ),
            {"a": [a for a, _ in dropped], "b": [b for _, b in dropped]},
        )
    session.execute(
        text(
            "INSERT INTO dedup_neighbourhood (entry_id, radius)"
            " SELECT * FROM unnest(CAST(:ids AS integer[]), CAST(:radii AS double precision[]))"
            " ON CONFLICT (entry_id) DO UPDATE SET radius = excluded.radius"
        ),
        {"ids": list(radii), "radii": list(radii.values())},
    )
    add_pairs(session, pairs)
    _save_state(session, inputs)


def add_pairs(session: Session, pairs: Sequence[tuple[float, int, int]]) -> None:
    """Store confirmed (distance, a, b) pairs, a < b."""
    if pairs:
        session.execute(
            text(
                "INSERT INTO dedup_pair (entry_a_id, entry_b_id, distance)"
                " SELECT * FROM unnest(CAST(:a AS integer[]), CAST(:b AS integer[]), CAST(:d AS double precision[]))"
            ),
            {"a": [a for _, a, _ in pairs], "b": [b for _, _, b in pairs], "d": [d for d, _, _ in pairs]},
        )


def pairs_touching(session: Session, entry_ids: Sequence[int]) -> list[tuple[float, int, int]]:
    """Stored confirmed pairs with an end among ``entry_ids``, as (distance, a, b)."""
    if not entry_ids:
        return []
    ids = bindparam("ids", list(entry_ids), type_=ARRAY(Integer))
    rows = session.execute(
        select(DedupPair.distance, DedupPair.entry_a_id, DedupPair.entry_b_id).where(
            (DedupPair.entry_a_id == any_(ids)) | (DedupPair.entry_b_id == any_(ids))
        )
    )
    return [(d, a, b) for d, a, b in rows]


def _save_state(session: Session, inputs: Inputs) -> None:
    """The one ``dedup_state`` row: the inputs, how many structures are clustered, the last entry id seen."""
    clustered = session.execute(select(func.count()).select_from(DedupNeighbourhood)).scalar_one()
    last = session.execute(select(func.max(DedupNeighbourhood.entry_id))).scalar_one() or 0
    session.execute(delete(DedupState))
    session.execute(
        insert(DedupState).values(
            id=1,
            tolerance=inputs.tolerance,
            neighbours=inputs.neighbours,
            overrides_sha256=inputs.overrides_sha256,
            invariants_version=INVARIANTS_VERSION,
            structures=clustered,
            last_entry_id=last,
        )
    )
