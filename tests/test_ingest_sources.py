"""Each source's real sample goes in, and concrete values come out as the file states them.

Expected values are read from the sample files here with plain ``json``/``csv``, not through
the adapters, so an adapter that misreads a field fails the test.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.samples import SAMPLES, bundled
from atlas2d.ingest.sources.tight_binding import FAMILIES
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import (
    BandStructure,
    Entry,
    Material,
    PropertyValue,
    Quarantine,
    Source,
    Structure,
)

MC2D_FILE = SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json"
C2DB_FILE = SAMPLES / "c2db" / "MoS2-165798ab5e18.structure.json"
C2DB_TABLE = SAMPLES / "c2db" / "c2db_web_table_sample.csv"
CAMPI_FILE = SAMPLES / "mc2d" / "mc2d_campi_v2_structure_2d_sample.json"
DISCOVER_FILE = SAMPLES / "mc2d" / "mc2d_discover_compounds_sample.json"
TWODMATPEDIA_FILE = SAMPLES / "2dmatpedia" / "2dmatpedia_sample.jsonl"
EXPERIMENTAL_FILE = SAMPLES / "experimental" / "experimental_2d_monolayers.csv"
MODELS_FILE = SAMPLES / "tight-binding-generated" / "models.json"


@pytest.fixture
def loaded(store_url: str) -> Session:
    """A store with every bundled sample ingested, as ``atlas2d demo`` does."""
    engine = make_engine(store_url)
    for source, files in bundled():
        ingest_files(engine, source, files)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _entry(session: Session, source: str, key: str) -> Entry:
    return session.execute(
        select(Entry).join(Source).where(Source.name == source, Entry.source_key == key)
    ).scalar_one()


def _values(session: Session, entry: Entry, name: str) -> dict[str, float | str | None]:
    rows = session.execute(
        select(PropertyValue.method, PropertyValue.value, PropertyValue.value_text).where(
            PropertyValue.entry_id == entry.id, PropertyValue.name == name
        )
    ).all()
    return {method: value if value is not None else text for method, value, text in rows}


def test_every_sample_record_is_ingested_and_nothing_quarantined(loaded: Session) -> None:
    per_source = dict(
        loaded.execute(select(Source.name, func.count(Entry.id)).join(Entry).group_by(Source.name)).all()
    )
    mc2d_items = len(json.loads(MC2D_FILE.read_text()))
    mc2d_items += len(json.loads(CAMPI_FILE.read_text())) + len(json.loads(DISCOVER_FILE.read_text())["compounds"])
    with C2DB_TABLE.open(encoding="utf-8") as handle:
        c2db_rows = len(list(csv.reader(handle))) - 1
    twodmatpedia_lines = len(TWODMATPEDIA_FILE.read_text().splitlines())
    with EXPERIMENTAL_FILE.open() as handle:
        experimental_rows = len(list(csv.DictReader(handle)))
    spec = json.loads(MODELS_FILE.read_text())
    assert per_source == {
        "c2db": 2 + c2db_rows,
        "mc2d": mc2d_items,
        "2dmatpedia": twodmatpedia_lines,
        "experimental": experimental_rows,
        "tight-binding-generated": spec["per_family"] * len(FAMILIES),
    }
    assert loaded.execute(select(func.count()).select_from(Quarantine)).scalar_one() == 0


def test_mc2d_entry_matches_the_file(loaded: Session) -> None:
    item = json.loads(MC2D_FILE.read_text())[0]
    entry = _entry(loaded, "mc2d", item["structure_label"])
    structure = loaded.execute(select(Structure).where(Structure.entry_id == entry.id)).scalar_one()
    assert structure.nsites == len(item["atomic_positions"]) == item["number_of_atoms"]
    assert sorted(structure.species_at_sites) == sorted(site[4] for site in item["atomic_positions"])
    assert _values(loaded, entry, "band_gap") == {"PBE": pytest.approx(item["band_gap"])}
    assert _values(loaded, entry, "magnetic_state") == {"PBE": item["magnetic_state"]}
    assert entry.raw == item
    cell_area = abs(item["cell"][0][1] * item["cell"][1][2] - item["cell"][0][2] * item["cell"][1][1])
    assert structure.area == pytest.approx(cell_area, rel=1e-6)


def test_mc2d_reduced_formula_is_in_optimade_form(loaded: Session) -> None:
    item = json.loads(MC2D_FILE.read_text())[0]
    assert item["formula_reduced"] == "LaOI"
    entry = _entry(loaded, "mc2d", item["structure_label"])
    assert entry.chemical_formula_reduced == "ILaO"
    structure = loaded.execute(select(Structure).where(Structure.entry_id == entry.id)).scalar_one()
    assert structure.chemical_formula_anonymous == "ABC"
    assert structure.elements == ["I", "La", "O"]


def test_mc2d_binding_energies_keep_their_functional(loaded: Session) -> None:
    item = next(i for i in json.loads(MC2D_FILE.read_text()) if isinstance(i["be_df2"], float))
    entry = _entry(loaded, "mc2d", item["structure_label"])
    assert _values(loaded, entry, "binding_energy") == {
        "vdW-DF2": pytest.approx(item["be_df2"]),
        "rVV10": pytest.approx(item["be_rvv10"]),
    }


def test_2dmatpedia_entry_matches_the_file(loaded: Session) -> None:
    items = [json.loads(line) for line in TWODMATPEDIA_FILE.read_text().splitlines()]
    item = next(i for i in items if "exfoliation_energy_per_atom" in i)
    entry = _entry(loaded, "2dmatpedia", item["material_id"])
    assert entry.raw == item
    assert _values(loaded, entry, "band_gap") == {"PBE": pytest.approx(item["bandgap"])}
    assert _values(loaded, entry, "exfoliation_energy") == {"optB88-vdW": pytest.approx(item["exfoliation_energy_per_atom"])}
    assert _values(loaded, entry, "decomposition_energy") == {"PBE": pytest.approx(item["decomposition_energy"])}
    structure = loaded.execute(select(Structure).where(Structure.entry_id == entry.id)).scalar_one()
    assert structure.nsites == len(item["structure"]["sites"])
    missing = next(i for i in items if "exfoliation_energy_per_atom" not in i)
    assert _values(loaded, _entry(loaded, "2dmatpedia", missing["material_id"]), "exfoliation_energy") == {}


def test_generated_band_structures_are_marked_and_are_no_materials(loaded: Session) -> None:
    rows = loaded.execute(
        select(Entry.material_id, Entry.raw, BandStructure.method, BandStructure.provenance)
        .join(BandStructure, BandStructure.entry_id == Entry.id)
        .join(Source)
        .where(Source.name == "tight-binding-generated")
    ).all()
    spec = json.loads(MODELS_FILE.read_text())
    assert len(rows) == spec["per_family"] * len(FAMILIES)
    assert all(material_id is None for material_id, _, _, _ in rows)
    assert all(raw["_atlas2d_constructed"].startswith("generated by atlas2d") for _, raw, _, _ in rows)
    assert {method for _, _, method, _ in rows} == {"tight-binding"}
    assert {provenance["family"] for _, _, _, provenance in rows} == set(FAMILIES)
    source_files = loaded.execute(select(Entry.source_file).join(BandStructure, BandStructure.entry_id == Entry.id)).scalars()
    assert set(source_files) == {MODELS_FILE.name}


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ('{"per_family": 0, "seed": 1}', "per_family must be a whole number from 1 to"),
        ('{"per_family": 2, "seed": -1}', "seed must be a whole number"),
        ('{"per_family": 2, "seed": 1, "families": ["graphene"]}', "families must be a list of distinct names"),
        ('{"per_family": 2, "seed": 1, "colour": "red"}', "unknown keys ['colour']"),
        ('[{"per_family": 2, "seed": 1}]', "a spec is a JSON object"),
        ('{"per_family": 2, "se', "Unterminated string"),
    ],
)
def test_a_bad_model_spec_is_one_quarantined_record(store_url: str, tmp_path: Path, spec: str, reason: str) -> None:
    path = tmp_path / "models.json"
    path.write_text(spec)
    engine = make_engine(store_url)
    summary = ingest_files(engine, "tight-binding-generated", [path])
    with Session(engine) as session:
        quarantined = session.execute(select(Quarantine.locator, Quarantine.reason)).all()
    engine.dispose()
    assert (summary.inserted, summary.quarantined) == (0, 1)
    assert len(quarantined) == 1 and quarantined[0].locator == "models.json"
    assert quarantined[0].reason.startswith("not a tight-binding model spec: ") and reason in quarantined[0].reason


def test_c2db_row_matches_the_file(loaded: Session) -> None:
    row = json.loads(C2DB_FILE.read_text())["1"]
    entry = _entry(loaded, "c2db", "MoS2-165798ab5e18")
    assert entry.chemical_formula_reduced == "MoS2"
    structure = loaded.execute(select(Structure).where(Structure.entry_id == entry.id)).scalar_one()
    assert structure.nsites == 3
    assert sorted(structure.species_at_sites) == ["Mo", "S", "S"]
    assert _values(loaded, entry, "total_energy") == {"PBE": pytest.approx(row["energy"])}
    z = [p[2] for p in structure.cartesian_site_positions]
    positions = row["positions"]["__ndarray__"][2]
    assert structure.thickness == pytest.approx(max(positions[2::3]) - min(positions[2::3]), abs=1e-9)
    assert max(z) - min(z) == pytest.approx(structure.thickness, abs=1e-9)
    assert structure.vacuum == pytest.approx(18.662813126546318 - structure.thickness, abs=1e-9)


def test_structures_follow_the_2d_convention(loaded: Session) -> None:
    for lattice, positions, thickness, vacuum in loaded.execute(
        select(Structure.lattice_vectors, Structure.cartesian_site_positions, Structure.thickness, Structure.vacuum)
    ):
        a, b, c = lattice
        assert a[1] == a[2] == b[2] == c[0] == c[1] == 0.0
        assert c[2] == pytest.approx(thickness + vacuum)
        z = [p[2] for p in positions]
        assert (max(z) + min(z)) / 2 == pytest.approx(c[2] / 2, abs=1e-6)


def test_2dmatpedia_record_keeps_its_fields_and_structure(loaded: Session) -> None:
    first = json.loads(TWODMATPEDIA_FILE.read_text().splitlines()[0])
    entry = _entry(loaded, "2dmatpedia", first["material_id"])
    assert entry.raw == first
    structure = loaded.execute(select(Structure).where(Structure.entry_id == entry.id)).scalar_one()
    assert structure.nsites == len(first["structure"]["sites"])
    assert _values(loaded, entry, "band_gap") == {"PBE": pytest.approx(first["bandgap"])}


def test_experimental_values_meet_computed_ones_on_one_material(loaded: Session) -> None:
    with EXPERIMENTAL_FILE.open() as handle:
        mos2 = next(row for row in csv.DictReader(handle) if row["formula"] == "MoS2")
    measured = loaded.execute(
        select(PropertyValue, Entry.material_id)
        .join(Entry)
        .join(Source)
        .where(Source.name == "experimental", Entry.chemical_formula_reduced == "MoS2")
    ).one()
    value, material_id = measured
    assert (value.name, value.value, value.unit) == ("optical_gap", pytest.approx(float(mos2["value"])), "eV")
    assert value.method == "expt:photoluminescence"
    assert value.reference == f"doi:{mos2['doi']}"
    computed = _entry(loaded, "c2db", "MoS2-165798ab5e18")
    same_formula = loaded.execute(
        select(Entry.material_id).where(Entry.chemical_formula_reduced == "MoS2", Entry.id != computed.id)
    ).scalars().all()
    assert material_id in {computed.material_id, *same_formula}
    assert loaded.get(Material, material_id) is not None
    structures_of_material = loaded.execute(
        select(func.count()).select_from(Structure).join(Entry).where(Entry.material_id == material_id)
    ).scalar_one()
    assert structures_of_material >= 1


def test_constructed_lines_are_refused_as_2dmatpedia(store_url: str, tmp_path: Path) -> None:
    constructed = tmp_path / "constructed.jsonl"
    lines = [json.loads(line) for line in TWODMATPEDIA_FILE.read_text().splitlines()[:3]]
    constructed.write_text("".join(json.dumps({**item, "_atlas2d_constructed": "built by atlas2d"}) + "\n" for item in lines))
    engine = make_engine(store_url)
    summary = ingest_files(engine, "2dmatpedia", [constructed])
    assert (summary.inserted, summary.quarantined) == (0, 3)
    assert set(summary.reasons) == {"a constructed record is not 2dmatpedia data (it carries '_atlas2d_constructed')"}
    engine.dispose()


def test_optimade_json_structures(store_url: str, tmp_path: Path) -> None:
    item = json.loads(MC2D_FILE.read_text())[0]
    resource = {
        "id": "mc2d-0",
        "type": "structures",
        "attributes": {
            "lattice_vectors": [row[1:] for row in item["cell"][:2]] + [None],
            "cartesian_site_positions": [site[1:4] for site in item["atomic_positions"]],
            "species_at_sites": [site[0] for site in item["atomic_positions"]],
            "species": [
                {"name": s, "chemical_symbols": [s], "concentration": [1.0]} for s in {site[0] for site in item["atomic_positions"]}
            ],
            "dimension_types": [1, 1, 0],
        },
    }
    path = tmp_path / "response.json"
    path.write_text(json.dumps({"data": [resource], "meta": {"provider": {"prefix": "mcloud"}}}))
    engine = make_engine(store_url)
    summary = ingest_files(engine, "optimade", [path])
    assert (summary.inserted, summary.quarantined) == (1, 0)
    with Session(engine) as session:
        entry = _entry(session, "optimade", "mcloud:mc2d-0")
        structure = session.execute(select(Structure).where(Structure.entry_id == entry.id)).scalar_one()
        assert structure.nsites == item["number_of_atoms"]
        assert structure.vacuum == pytest.approx(20.0)
    engine.dispose()
