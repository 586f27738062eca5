"""Real 2D structures for tests that need a populated store but not a source adapter.

The poscar2d archive in ``../shared/data/poscar2d`` holds thousands of real monolayer cells
(most likely 2DMatPedia's; see its PROVENANCE.md). pymatgen reads POSCAR directly, so tests
of dedup, search, the API and the graph can fill a store with real structures through the
same ``write_records`` the adapters use, under a source name that says what it is.
"""

from __future__ import annotations

import tarfile
from functools import lru_cache
from pathlib import Path

from pymatgen.core import Structure
from sqlalchemy.orm import Session

from atlas2d.ingest.formulas import reduced_formula
from atlas2d.ingest.geometry import to_2d_convention
from atlas2d.ingest.preferred import refresh_preferred
from atlas2d.ingest.records import Record, SourceInfo, Value
from atlas2d.ingest.store import ensure_source, write_records
from atlas2d.testdata import SHARED_DATA

POSCAR_ARCHIVE = SHARED_DATA / "poscar2d" / "poscar2d_structures.tar.gz"

POSCAR_SOURCE = SourceInfo(
    name="poscar2d-test",
    title="Real 2D structures from the poscar2d archive (test fixture, no properties)",
    license="CC BY 4.0 (2DMatPedia, presumed origin)",
    url="https://github.com/lalaheihaihei/catalyticLAM",
)


@lru_cache(maxsize=4)
def poscar_structures(limit: int, max_sites: int = 24) -> tuple[tuple[str, Structure], ...]:
    """The first ``limit`` structures with at most ``max_sites`` sites, by file name.

    Small cells keep the tests fast; the order is by name so every run sees the same set.
    """
    found: list[tuple[str, Structure]] = []
    with tarfile.open(POSCAR_ARCHIVE) as archive:
        members = sorted((m for m in archive.getmembers() if m.isfile()), key=lambda m: m.name)
        for member in members:
            handle = archive.extractfile(member)
            assert handle is not None
            structure = Structure.from_str(handle.read().decode(), fmt="poscar")
            if len(structure) <= max_sites:
                found.append((Path(member.name).name, structure))
            if len(found) == limit:
                break
    return tuple(found)


def structure_record(key: str, structure: Structure, values: list[Value] | None = None) -> Record:
    """A ``Record`` for a bare structure; the raw record is the structure's own dict."""
    layer = to_2d_convention(structure)
    return Record(
        source_key=key,
        chemical_formula_reduced=reduced_formula(layer.counts()),
        raw={"poscar": key, "structure": structure.as_dict()},
        layer=layer,
        values=values or [],
        locator=key,
    )


def seed_store(session: Session, records: list[Record], source: SourceInfo = POSCAR_SOURCE) -> list[str]:
    """Write ``records`` under ``source`` and commit, as an ingest batch does; return their source keys."""
    source_id = ensure_source(session, source)
    write_records(session, source_id, records, source_file=str(POSCAR_ARCHIVE.name))
    refresh_preferred(session)
    session.commit()
    return [r.source_key for r in records]
