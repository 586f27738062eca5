"""Curators' decisions that two entries must (join) or must not (split) share a material.

A ``cluster_override`` row wins over the invariants: dedup merges ``join`` pairs first,
whatever their distance, and no union may put the two entries of a ``split`` pair into one
material. A decision applies from the next dedup run on.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from atlas2d.schema.models import ClusterOverride, Entry

SPLIT_ACTION, JOIN_ACTION = "split", "join"

JOIN_RULE = "override:join"
"""The ``merge_evidence.rule`` text of a merge made by a ``join`` override."""


def set_override(session: Session, entry_a: int, entry_b: int, action: str, note: str | None = None) -> None:
    """Record that two entries must (join) or must not (split) share a material; replaces an earlier decision."""
    if action not in (SPLIT_ACTION, JOIN_ACTION):
        raise ValueError(f"unknown override {action!r}: use split or join")
    if entry_a == entry_b:
        raise ValueError("an override needs two different entries")
    found = set(session.execute(select(Entry.id).where(Entry.id.in_([entry_a, entry_b]))).scalars())
    missing = sorted({entry_a, entry_b} - found)
    if missing:
        raise LookupError(f"no entry with id {missing[0]}")
    a, b = sorted((entry_a, entry_b))
    session.execute(delete(ClusterOverride).where(ClusterOverride.entry_a_id == a, ClusterOverride.entry_b_id == b))
    session.execute(insert(ClusterOverride).values(entry_a_id=a, entry_b_id=b, action=action, note=note))
    session.commit()


def load_overrides(session: Session) -> list[tuple[int, int, str]]:
    """Every decision as (entry a, entry b, action), entry a < entry b."""
    rows = session.execute(select(ClusterOverride.entry_a_id, ClusterOverride.entry_b_id, ClusterOverride.action))
    return [(a, b, action) for a, b, action in rows]
