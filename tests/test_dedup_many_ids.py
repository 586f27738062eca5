"""Dedup's reads by entry id take any number of ids (PostgreSQL refuses more than 65,535 parameters)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.embeddings.structure import refresh
from atlas2d.embeddings.structure.candidates import emd_lower_bounds, load_pdds
from atlas2d.schema.models import Structure
from atlas2d.testdata.poscar import poscar_structures, seed_store, structure_record

MANY = 70_000
"""More ids than one statement may carry as separate parameters."""


def test_pdds_and_bounds_are_read_for_more_ids_than_parameters_allowed(session: Session) -> None:
    seed_store(session, [structure_record(key, s) for key, s in poscar_structures(2)])
    refresh.refresh(session, device="cpu")
    a, b = session.execute(select(Structure.entry_id).order_by(Structure.entry_id)).scalars().all()
    absent = range(10**6, 10**6 + MANY)
    assert set(load_pdds(session, [a, b, *absent])) == {a, b}
    pairs = [(a, b, 0.0)] + [(a, a, 0.0)] * MANY
    bounds = emd_lower_bounds(session, pairs)
    assert bounds.shape == (MANY + 1,) and bounds[0] >= 0 and not bounds[1:].any()
