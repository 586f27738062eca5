"""A large store made quickly: real structures replicated in SQL, for benchmarks of big result sets.

Ingesting thousands of records takes minutes on a small machine; the export and explorer
benchmarks need many materials, not many distinct ones, so ``BASE_STRUCTURES`` real
poscar2d monolayers are written through the real store writer and then copied row by row in
SQL (materials, entries, structures and properties), each copy a material of its own.
"""

from __future__ import annotations

BASE_STRUCTURES = 50
"""Real structures seeded before replication."""


def build_store(url: str, materials: int) -> None:
    """Seed ``BASE_STRUCTURES`` real structures, then replicate them in SQL to ``materials``."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from atlas2d.ingest.preferred import EVERYTHING, refresh_preferred
    from atlas2d.ingest.records import Value
    from atlas2d.schema.database import make_engine
    from atlas2d.schema.migrate import upgrade
    from atlas2d.testdata.poscar import poscar_structures, seed_store, structure_record

    engine = make_engine(url)
    upgrade(engine)
    records = [
        structure_record(
            key,
            structure,
            [
                Value("band_gap", 0.1 * i, "eV", "PBE", source_field="gap"),
                Value("formation_energy", -0.02 * i, "eV/atom", "PBE", source_field="ehof"),
                Value("band_gap_type", None, None, "PBE", value_text="direct"),
            ],
        )
        for i, (key, structure) in enumerate(poscar_structures(BASE_STRUCTURES))
    ]
    with Session(engine) as session:
        seed_store(session, records)
        copies = -(-materials // BASE_STRUCTURES) - 1
        offsets = session.execute(text("SELECT max(id) FROM material")).scalar_one(), session.execute(
            text("SELECT max(id) FROM entry")
        ).scalar_one()
        params = {"copies": copies, "m": offsets[0], "e": offsets[1]}
        for statement in (
            "INSERT INTO material (id, chemical_formula_reduced) SELECT id + g * :m, chemical_formula_reduced "
            "FROM material, generate_series(1, :copies) g",
            "INSERT INTO entry (id, source_id, source_key, material_id, chemical_formula_reduced, raw, raw_sha256, revision) "
            "SELECT id + g * :e, source_id, source_key || '#' || g, material_id + g * :m, chemical_formula_reduced, "
            "jsonb_build_object('copy_of', id), raw_sha256, 1 FROM entry, generate_series(1, :copies) g",
            "INSERT INTO structure (entry_id, lattice_vectors, cartesian_site_positions, species_at_sites, nsites, elements, "
            "elements_ratios, nelements, chemical_formula_reduced, chemical_formula_anonymous, chemical_formula_descriptive, "
            "dimension_types, nperiodic_dimensions, thickness, vacuum, area) SELECT entry_id + g * :e, lattice_vectors, "
            "cartesian_site_positions, species_at_sites, nsites, elements, elements_ratios, nelements, chemical_formula_reduced, "
            "chemical_formula_anonymous, chemical_formula_descriptive, dimension_types, nperiodic_dimensions, thickness, vacuum, "
            "area FROM structure, generate_series(1, :copies) g",
            "INSERT INTO property (entry_id, name, value, value_text, unit, method, source_field) SELECT entry_id + g * :e, "
            "name, value, value_text, unit, method, source_field FROM property, generate_series(1, :copies) g",
            "SELECT setval('material_id_seq', (SELECT max(id) FROM material))",
            "SELECT setval('entry_id_seq', (SELECT max(id) FROM entry))",
        ):
            session.execute(text(statement), params)
        refresh_preferred(session, since=EVERYTHING)
        session.commit()
    engine.dispose()
