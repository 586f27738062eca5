"""An OPTIMADE provider's species names (``Ac1``, ``Ac2``) are stored beside the elements, which
invariants and dedup keep reading; species objects that cannot be served are quarantined."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from pyld import jsonld
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from atlas2d.api.exports.training_set import export_training_set
from atlas2d.embeddings.structure.dedup import run_dedup
from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ontology.vocabulary import OPTIMADE
from atlas2d.schema.database import make_engine
from atlas2d.schema.migrate import MIGRATIONS, head_revision, upgrade
from atlas2d.schema.models import Entry, Quarantine, Structure
from atlas2d.testdata.servers import atlas2d_server

# hexagonal Ac bilayer-like cell: two sites 2.6 Å apart, 20 Å of vacuum
LATTICE = [[3.7, 0.0, 0.0], [-1.85, 3.2043, 0.0], [0.0, 0.0, 20.0]]
POSITIONS = [[0.0, 0.0, 9.0], [1.85, 1.0681, 11.0]]
AC1 = {"name": "Ac1", "chemical_symbols": ["Ac"], "concentration": [1.0], "mass": [227.03], "original_name": "Ac_a"}
AC2 = {"name": "Ac2", "chemical_symbols": ["Ac"], "concentration": [1.0]}


def _resource(identifier: str, names: list[Any], species: Any) -> dict[str, Any]:
    attributes = {
        "lattice_vectors": LATTICE,
        "cartesian_site_positions": POSITIONS,
        "species_at_sites": names,
        "dimension_types": [1, 1, 0],
    }
    if species is not None:
        attributes["species"] = species
    return {"id": identifier, "type": "structures", "attributes": attributes}


def _ingest(store_url: str, tmp_path: Path, resources: list[dict[str, Any]]) -> Any:
    path = tmp_path / "structures.json"
    path.write_text(json.dumps({"data": resources, "meta": {"provider": {"prefix": "prov"}}}))
    engine = make_engine(store_url)
    summary = ingest_files(engine, "optimade", [path])
    engine.dispose()
    return summary


def _structures(store_url: str) -> dict[str, Structure]:
    engine = make_engine(store_url)
    with Session(engine, expire_on_commit=False) as session:
        rows = session.execute(select(Entry.source_key, Structure).join(Structure, Structure.entry_id == Entry.id)).all()
    engine.dispose()
    return dict(rows)


def test_species_names_are_stored_beside_the_elements(store_url: str, tmp_path: Path) -> None:
    odd = 'A"c\\[1]{x},\n'
    summary = _ingest(
        store_url,
        tmp_path,
        [
            _resource("named", ["Ac1", "Ac2"], [AC2, {"name": "Ac1", "chemical_symbols": ["Ac"], "concentration": [1]}]),
            _resource("plain", ["Ac", "Ac"], [{"name": "Ac", "chemical_symbols": ["Ac"], "concentration": [1.0]}]),
            _resource("bare", ["Ac", "Ac"], None),
            _resource("odd", [odd, "Ac"], [{"name": odd, "chemical_symbols": ["Ac"], "concentration": [1.0]}, AC2 | {"name": "Ac"}]),
            _resource("unused", ["Ac1", "Ac1"], [AC1, {"name": "Mix", "chemical_symbols": ["Ac", "Th"], "concentration": [0.5, 0.5]}]),
        ],
    )
    assert (summary.inserted, summary.quarantined) == (5, 0), summary.reasons
    stored = _structures(store_url)
    for structure in stored.values():
        assert structure.species_at_sites == ["Ac", "Ac"]
        assert structure.elements == ["Ac"]
    named = stored["prov:named"]
    assert named.site_names == ["Ac1", "Ac2"]
    # the provider's order, validated (concentration [1] read as [1.0])
    assert named.species == [AC2, {"name": "Ac1", "chemical_symbols": ["Ac"], "concentration": [1.0]}]
    assert stored["prov:plain"].site_names is None
    assert stored["prov:plain"].species == [{"name": "Ac", "chemical_symbols": ["Ac"], "concentration": [1.0]}]
    assert (stored["prov:bare"].site_names, stored["prov:bare"].species) == (None, None)
    # brackets, quotes, backslashes, commas and newlines survive the array literal written by COPY
    assert stored["prov:odd"].site_names == [odd, "Ac"]
    # a species named at no site is not served (it would need the implicit_atoms feature)
    assert stored["prov:unused"].species == [AC1]
    assert stored["prov:unused"].site_names == ["Ac1", "Ac1"]


@pytest.mark.parametrize(
    ("names", "species", "reason"),
    [
        (["Ac1", "Ac2"], [AC1, {"name": "Ac2", "chemical_symbols": ["Ac", "vacancy"], "concentration": [0.9, 0.1]}], "disordered"),
        (["Ac1", "Ac2"], [AC1, {"name": "Ac2", "chemical_symbols": ["Ac"], "concentration": [0.5]}], "disordered"),
        (["Ac1", "Ac1"], [AC1 | {"attached": ["H"], "nattached": [3]}], "attached atoms"),
        (["Ac1", "Ac1"], [AC1 | {"mass": [227.0, 1.0]}], "is not an OPTIMADE species object: mass"),
        (["Ac1", "Ac1"], [AC1, AC1], "species names are not unique"),
        (["Ac1", "Ac"], [AC1], "without a species object"),
        (["Ac", "Ac"], {"Ac": AC2}, "not a list of species objects"),
        (["Ac1", "Ac1"], [AC1 | {"name": "Ac1", "concentration": None}], "not an OPTIMADE species object: concentration"),
        (["x" * 600, "Ac"], [AC2 | {"name": "x" * 600}, AC2 | {"name": "Ac"}], "species name is 600 characters long"),
    ],
)
def test_species_that_cannot_be_served_are_quarantined(
    store_url: str, tmp_path: Path, names: list[str], species: Any, reason: str
) -> None:
    summary = _ingest(store_url, tmp_path, [_resource("bad", names, species)])
    assert (summary.inserted, summary.quarantined) == (0, 1)
    engine = make_engine(store_url)
    with Session(engine) as session:
        ((locator, stored),) = session.execute(select(Quarantine.locator, Quarantine.reason)).all()
    engine.dispose()
    assert locator == "structures.json[0]"
    assert reason in stored


def test_dedup_reads_ac1_and_ac2_as_ac(store_url: str, tmp_path: Path) -> None:
    summary = _ingest(store_url, tmp_path, [_resource("named", ["Ac1", "Ac2"], [AC1, AC2]), _resource("plain", ["Ac", "Ac"], None)])
    assert summary.inserted == 2
    engine = make_engine(store_url)
    with Session(engine) as session:
        run_dedup(session, device="cpu")
        session.commit()
    stored = _structures(store_url)
    named, plain = stored["prov:named"], stored["prov:plain"]
    np.testing.assert_array_equal(np.asarray(named.amd), np.asarray(plain.amd))
    assert named.pdd == plain.pdd
    with Session(engine) as session:
        materials = dict(session.execute(select(Entry.source_key, Entry.material_id)).all())
    engine.dispose()
    assert materials["prov:named"] == materials["prov:plain"]


def test_migration_0007_backfills_stored_provider_structures(store_url: str, tmp_path: Path) -> None:
    """Entries stored before 0007 get their names from the raw record: an unchanged re-ingest writes nothing."""
    summary = _ingest(store_url, tmp_path, [_resource("named", ["Ac1", "Ac2"], [AC1, AC2]), _resource("plain", ["Ac", "Ac"], None)])
    assert summary.inserted == 2
    engine = make_engine(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    assert upgrade(engine) == ("0006", head_revision())
    stored = _structures(store_url)
    assert stored["prov:named"].site_names == ["Ac1", "Ac2"]
    assert stored["prov:named"].species == [AC1, AC2]
    assert (stored["prov:plain"].site_names, stored["prov:plain"].species) == (None, None)
    with engine.connect() as connection:
        indexes = connection.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'structure'")).scalars().all()
    engine.dispose()
    assert "ix_structure_served_species_at_sites_gin" in indexes
    assert "ix_structure_species_at_sites_gin" not in indexes


def test_export_and_explorer_show_the_source_names(store_url: str, tmp_path: Path) -> None:
    _ingest(store_url, tmp_path, [_resource("named", ["Ac1", "Ac2"], [AC1, AC2]), _resource("plain", ["Ac", "Ac"], None)])
    engine = make_engine(store_url)
    with engine.connect() as connection:
        export_training_set(connection, tmp_path / "export", (1.0, 0.0, 0.0), seed=1)
        ids = dict(connection.execute(select(Entry.source_key, Entry.id)).all())
    engine.dispose()
    documents = [json.loads(line) for line in (tmp_path / "export" / "train.jsonl").read_text().splitlines()]
    structures = {e["source_key"]: e["structure"] for d in documents for e in d["entries"]}
    assert structures["prov:named"]["species_at_sites"] == ["Ac1", "Ac2"]
    assert structures["prov:named"]["species"] == [AC1, AC2]
    assert structures["prov:plain"]["species_at_sites"] == ["Ac", "Ac"]
    assert "species" not in structures["prov:plain"]
    named = next(d for d in documents if any(e["source_key"] == "prov:named" for e in d["entries"]))
    expanded = json.dumps(jsonld.expand(named))
    assert str(OPTIMADE.species) in expanded and "Ac_a" in expanded
    with atlas2d_server(store_url) as base:
        page = httpx.get(f"{base}/entries/{ids['prov:named']}", timeout=30)
        plain = httpx.get(f"{base}/entries/{ids['prov:plain']}", timeout=30)
    assert page.status_code == plain.status_code == 200
    assert 'id="site-names">Ac1, Ac2' in page.text
    assert "site-names" not in plain.text


def test_a_changed_record_replaces_its_names(store_url: str, tmp_path: Path) -> None:
    """A re-ingested record whose provider renamed its sites back to elements is served with elements."""
    _ingest(store_url, tmp_path, [_resource("named", ["Ac1", "Ac2"], [AC1, AC2])])
    summary = _ingest(store_url, tmp_path, [_resource("named", ["Ac", "Ac"], [AC2 | {"name": "Ac"}])])
    assert (summary.inserted, summary.updated) == (0, 1)
    named = _structures(store_url)["prov:named"]
    assert named.site_names is None
    assert named.species == [AC2 | {"name": "Ac"}]
