"""A small store for the graph and export tests: real structures, test property values.

The structures are the real poscar2d monolayers of ``atlas2d.testdata.poscar``; the property
values are chosen by the tests (not measured or computed), so that questions like "PBE gap
between 1 and 2 eV with an experimental value" have some materials on each side. The
experimental records carry no structure but their structure's space group, so the store
writer links them to the material of the same reduced formula and space group
(``atlas2d.ingest.linking``), as it does for the real experimental sources.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from atlas2d.ingest.formulas import reduced_formula
from atlas2d.ingest.geometry import to_2d_convention
from atlas2d.ingest.linking import space_group_of
from atlas2d.ingest.records import Record, SourceInfo, Value
from atlas2d.testdata.poscar import poscar_structures, seed_store, structure_record

PBE_GAPS = [0.5, 1.2, 1.5, 1.9, 2.5, 1.0, 2.0, 0.0, 3.1, 1.7, 1.4, 0.8]
"""eV, one per structure, in file-name order."""

EXPERIMENTAL_GAPS = {1: 1.6, 3: 2.3, 4: 2.9, 8: 3.4, 10: 1.9}
"""Structure index -> experimental gap (eV) of a record with the same formula."""

EXPERIMENT_SOURCE = SourceInfo(
    name="expt-test",
    title="Experimental gaps made up for the graph tests",
    license="CC0 1.0",
)


def seed_graph_store(session: Session) -> dict[str, int]:
    """Fill the store; return the number of structures, experimental records and values."""
    structures = poscar_structures(len(PBE_GAPS))
    computed = [
        structure_record(
            key,
            structure,
            [
                Value("band_gap", gap, "eV", "PBE", source_field="gap"),
                Value("formation_energy", -0.1 * (i + 1), "eV/atom", "PBE", source_field="ehof"),
                Value("band_gap_type", None, None, "PBE", value_text="indirect" if i % 2 else "direct"),
            ],
        )
        for i, ((key, structure), gap) in enumerate(zip(structures, PBE_GAPS, strict=True))
    ]
    seed_store(session, computed)
    experimental = [
        Record(
            source_key=f"expt-{i}",
            chemical_formula_reduced=reduced_formula(to_2d_convention(structures[i][1]).counts()),
            raw={"formula": reduced_formula(to_2d_convention(structures[i][1]).counts()), "gap": gap},
            values=[Value("band_gap", gap, "eV", "expt:PL", source_field="gap", reference="test value")],
            space_group=space_group_of(to_2d_convention(structures[i][1])),
        )
        for i, gap in EXPERIMENTAL_GAPS.items()
    ]
    experimental.append(
        Record(
            source_key="expt-unmatched",
            chemical_formula_reduced="MoS2",
            raw={"formula": "MoS2", "gap": 1.8},
            values=[Value("band_gap", 1.8, "eV", "expt", source_field="gap")],
        )
    )
    seed_store(session, experimental, EXPERIMENT_SOURCE)
    return {"structures": len(computed), "experimental": len(experimental)}
