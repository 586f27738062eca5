"""The explorer tests' store: real structures with known values, duplicates, bands and hostile text.

Built on ``atlas2d.testdata.graph.seed_graph_store`` (12 real poscar2d monolayers with PBE gaps
and formation energies, experimental gaps on some of their formulas). Added here:

- a second source with copies of the first three structures, each with an HSE06 gap, so dedup
  merges them with their originals (merge evidence) and a material has gaps by two methods
  from two sources; the third copy is split from its original by a curator's override;
- band structures from the tight-binding generator attached to the entries of the first two
  materials, generated band-only models beside them, all fingerprinted with the shipped weights;
- hostile text: an experimental record whose formula is a ``<script>`` element and a copy of the
  last structure whose source id is an ``<img onerror>``, to check that every page escapes them.

``expected_search`` computes search answers from these constants, not from the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.ingest.band_records import BandRecord
from atlas2d.ingest.band_store import write_band_records
from atlas2d.ingest.harmonize import reduced_formula, to_2d_convention
from atlas2d.ingest.records import Record, SourceInfo, Value
from atlas2d.ingest.sources.tight_binding import GENERATED_SOURCE, generate
from atlas2d.schema.models import Entry, Source
from atlas2d.testdata.graph import EXPERIMENTAL_GAPS, PBE_GAPS, seed_graph_store
from atlas2d.testdata.poscar import POSCAR_SOURCE, poscar_structures, seed_store, structure_record

COPIES = 3
HSE06_SHIFT = 0.6
"""eV: the copies' HSE06 gap is the original's PBE gap plus this."""

SPLIT_COPY = 2
"""Index of the copy a curator keeps apart from its original."""

BANDED = (0, 1)
"""Indices of the structures whose entries get a band structure."""

SCRIPT_FORMULA = '<script>alert("formula")</script>'
HOSTILE_KEY = "<img src=x onerror=alert('key')>"
SCRIPT_GAP = 1.1

COPY_SOURCE = SourceInfo(name="poscar2d-copy", title="Copies of poscar2d structures with HSE06 gaps (test)", license="CC BY 4.0")
HOSTILE_SOURCE = SourceInfo(name="hostile-test", title="Records whose text is HTML (escaping test)", license="CC0 1.0")


@dataclass(frozen=True)
class Seeded:
    """What the tests need to know about the store."""

    formulas: list[str]
    elements: list[set[str]]


def formulas() -> list[str]:
    return [reduced_formula(to_2d_convention(s).counts()) for _, s in poscar_structures(len(PBE_GAPS))]


def seed_web_store(session: Session) -> Seeded:
    """Fill the store as the module docstring says, run dedup and fingerprint the bands."""
    from atlas2d.embeddings.bands.model import load_model
    from atlas2d.embeddings.bands.refresh import fill_fingerprints
    from atlas2d.embeddings.structure.dedup import run_dedup, set_override

    structures = poscar_structures(len(PBE_GAPS))
    seed_graph_store(session)
    copies = [
        structure_record(key, structure, [Value("band_gap", round(PBE_GAPS[i] + HSE06_SHIFT, 3), "eV", "HSE06", source_field="gap_hse")])
        for i, (key, structure) in enumerate(structures[:COPIES])
    ]
    seed_store(session, copies, COPY_SOURCE)
    hostile = [
        structure_record(HOSTILE_KEY, structures[-1][1]),
        Record(
            source_key="script-formula",
            chemical_formula_reduced=SCRIPT_FORMULA,
            raw={"formula": SCRIPT_FORMULA, "note": "</pre><script>alert('raw')</script>"},
            values=[Value("band_gap", SCRIPT_GAP, "eV", "expt:PL", source_field="gap", reference="<b>not bold</b>")],
        ),
    ]
    seed_store(session, hostile, HOSTILE_SOURCE)
    split_key = structures[SPLIT_COPY][0]
    pair = session.execute(select(Entry.id).where(Entry.source_key == split_key).order_by(Entry.id)).scalars().all()
    set_override(session, pair[0], pair[1], "split", note="curator: <keep apart>")
    run_dedup(session, device="cpu")

    models = generate(2, seed=5151)
    on_structures = generate(1, seed=5152)
    attached = [
        BandRecord(
            entry=structure_record(key, structure, _graph_values(i)),
            method="PBE",
            fermi_level=on_structures[n].record.fermi_level,
            segments=on_structures[n].record.segments,
            provenance={"origin": "generated tight-binding (test bands on a real structure)", "family": on_structures[n].family},
        )
        for n, i in enumerate(BANDED)
        for key, structure in [structures[i]]
    ]
    write_band_records(session, POSCAR_SOURCE, attached)
    write_band_records(session, GENERATED_SOURCE, [m.record for m in models])
    session.commit()
    fill_fingerprints(session, load_model(device="cpu"))
    session.commit()
    return Seeded(formulas(), [{site.specie.symbol for site in s} for _, s in structures])


def _graph_values(i: int) -> list[Value]:
    """The values ``seed_graph_store`` gave structure ``i`` (the raw record, and so the entry, is the same)."""
    return [
        Value("band_gap", PBE_GAPS[i], "eV", "PBE", source_field="gap"),
        Value("formation_energy", -0.1 * (i + 1), "eV/atom", "PBE", source_field="ehof"),
        Value("band_gap_type", None, None, "PBE", value_text="indirect" if i % 2 else "direct"),
    ]


def expected_search(seeded: Seeded, elements: set[str], low: float, high: float) -> list[str]:
    """Formulas of the materials with all ``elements`` and a PBE gap in [low, high], sorted."""
    rows = zip(seeded.formulas, seeded.elements, PBE_GAPS, strict=True)
    return sorted(f for f, els, gap in rows if elements <= els and low <= gap <= high)


def expected_expt(seeded: Seeded, low: float, high: float) -> list[str]:
    """Formulas of the materials with a measured gap in [low, high], sorted."""
    found = [seeded.formulas[i] for i, gap in EXPERIMENTAL_GAPS.items() if low <= gap <= high]
    found += ["MoS2"] if low <= 1.8 <= high else []
    found += [SCRIPT_FORMULA] if low <= SCRIPT_GAP <= high else []
    return sorted(found)


def entry_id(session: Session, source: str, key: str) -> int:
    return session.execute(select(Entry.id).join(Source).where(Source.name == source, Entry.source_key == key)).scalar_one()


def material_id(session: Session, source: str, key: str) -> int:
    return session.execute(select(Entry.material_id).join(Source).where(Source.name == source, Entry.source_key == key)).scalar_one()

