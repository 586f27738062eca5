from sqlalchemy import func, select

from atlas2d.schema.models import Structure
from atlas2d.testdata.poscar import poscar_structures, seed_store, structure_record


def test_seed(session):
    items = poscar_structures(30)
    assert len(items) == 30
    keys = seed_store(session, [structure_record(k, s) for k, s in items])
    assert keys == [k for k, _ in items]
    assert session.scalar(select(func.count()).select_from(Structure)) == 30
