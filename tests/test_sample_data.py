from tests.sample_data import poscar_structures, structure_record, seed_store
from schema.models import Entry, Structure
from sqlalchemy import select, func
def test_seed(session):
    items = poscar_structures(30)
    assert len(items) == 30
    keys = seed_store(session, [structure_record(k, s) for k, s in items])
    assert session.scalar(select(func.count()).select_from(Structure)) == 30
