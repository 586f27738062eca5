"""Training-set exports: JSON-LD round trips, Croissant, splits by duplicate cluster."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld
from rdflib import Graph
from rdflib.compare import isomorphic
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from atlas2d.api.exports.jsonld import CONTEXT
from atlas2d.api.exports.splits import SPLIT_NAMES, assign_split, parse_fractions
from atlas2d.api.exports.training_set import export_training_set
from atlas2d.ontology.vocabulary import A2D, OPTIMADE
from atlas2d.schema.models import Entry, Structure
from atlas2d.testdata.graph import seed_graph_store


@pytest.fixture
def store(session: Session) -> Session:
    """The graph test store, with two computed entries merged into one material by hand
    (as dedup would), so that one cluster holds two structures."""
    seed_graph_store(session)
    first, second = session.execute(
        select(Entry.id, Entry.material_id).join(Structure).order_by(Entry.id).limit(2)
    ).all()
    session.execute(update(Entry).where(Entry.id == second.id).values(material_id=first.material_id))
    session.commit()
    return session


def _documents(out: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()] for name in SPLIT_NAMES
    }


def _keys(node: Any) -> set[str]:
    """Every key of a compact document, except JSON literals' insides and keywords."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _keys(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("@"):
                continue
            found.add(key)
            if not (isinstance(CONTEXT.get(key), dict) and CONTEXT[key].get("@type") == "@json"):
                found |= _keys(value)
    return found


def test_documents_expand_without_loss_and_round_trip_through_rdflib(store: Session, tmp_path: Path) -> None:
    summary = export_training_set(store.connection(), tmp_path, (0.6, 0.2, 0.2), seed=1)
    documents = [d for docs in _documents(tmp_path).values() for d in docs]
    assert len(documents) == sum(summary.materials.values()) == store.execute(
        text("SELECT count(DISTINCT material_id) FROM entry")
    ).scalar_one()
    for document in documents:
        keys = _keys(document)
        assert keys <= set(CONTEXT), keys - set(CONTEXT)
        expanded = jsonld.expand(document)
        flat = json.dumps(expanded)
        for key in keys:
            iri = jsonld.expand({"@context": CONTEXT, key: 1 if key != "entries" else {}})
            assert iri and next(iter(iri[0])) in flat, key
        # JSON literals expand to exactly the arrays written (pyld 3.3 cannot compact them back).
        expanded_positions = [
            structure[str(OPTIMADE.cartesian_site_positions)][0]["@value"]
            for entry in expanded[0][str(A2D.hasEntry)]
            for structure in entry.get(str(A2D.hasStructure), [])
        ]
        assert expanded_positions == [
            e["structure"]["cartesian_site_positions"] for e in document["entries"] if "structure" in e
        ]
        graph = Graph().parse(data=json.dumps(document), format="json-ld")
        quads = jsonld.to_rdf(document, {"format": "application/n-quads"})
        assert len(graph) == len(quads.strip().splitlines()) > 10
        again = Graph().parse(data=graph.serialize(format="json-ld"), format="json-ld")
        assert isomorphic(graph, again)
        lattices = [json.loads(o) for o in graph.objects(None, OPTIMADE.lattice_vectors)]
        assert sorted(lattices) == sorted(e["structure"]["lattice_vectors"] for e in document["entries"] if "structure" in e)
    merged = next(d for d in documents if sum("structure" in e for e in d["entries"]) == 2)
    assert merged["n_entries"] >= 2
    sites = merged["entries"][0]["structure"]
    assert len(sites["species_at_sites"]) == sites["nsites"] == len(sites["cartesian_site_positions"])


def test_no_cluster_straddles_two_splits(store: Session, tmp_path: Path) -> None:
    export_training_set(store.connection(), tmp_path, (0.5, 0.25, 0.25), seed=7)
    documents = _documents(tmp_path)
    seen: dict[int, str] = {}
    for split, docs in documents.items():
        for document in docs:
            for entry in document["entries"]:
                entry_id = int(entry["@id"].rsplit("/", 1)[1])
                assert entry_id not in seen
                seen[entry_id] = split
            assert document["split"] == split
    clusters = store.execute(text("SELECT id, material_id FROM entry")).all()
    by_cluster: dict[int, set[str]] = {}
    for entry_id, material_id in clusters:
        by_cluster.setdefault(material_id, set()).add(seen[entry_id])
    assert all(len(splits) == 1 for splits in by_cluster.values())
    assert any(len([e for e, m in clusters if m == material]) > 1 for material in by_cluster)
    with (tmp_path / "splits.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {int(r["material_id"]): r["split"] for r in rows} == {
        d["material_id"]: s for s, docs in documents.items() for d in docs
    }
    again = tmp_path / "again"
    export_training_set(store.connection(), again, (0.5, 0.25, 0.25), seed=7)
    assert (again / "splits.csv").read_text() == (tmp_path / "splits.csv").read_text()


def test_split_assignment_follows_fractions_and_seed() -> None:
    keys = [str(i) for i in range(20000)]
    counts = Counter(assign_split(k, 3, (0.8, 0.1, 0.1)) for k in keys)
    assert abs(counts["train"] / len(keys) - 0.8) < 0.01
    assert abs(counts["test"] / len(keys) - 0.1) < 0.01
    other = [assign_split(k, 4, (0.8, 0.1, 0.1)) for k in keys[:1000]]
    assert other != [assign_split(k, 3, (0.8, 0.1, 0.1)) for k in keys[:1000]]
    assert {assign_split(k, 3, (1.0, 0.0, 0.0)) for k in keys[:1000]} == {"train"}
    for bad in ("0.8/0.1", "0.8/0.1/0.2", "a/b/c", "1.2/-0.1/-0.1"):
        with pytest.raises(ValueError, match="--split"):
            parse_fractions(bad)


def test_croissant_loads_and_iterates_records(store: Session, tmp_path: Path) -> None:
    import mlcroissant as mlc

    summary = export_training_set(store.connection(), tmp_path, (0.6, 0.2, 0.2), seed=2)
    dataset = mlc.Dataset(jsonld=tmp_path / "croissant.json")
    material_ids: list[int] = []
    for split in SPLIT_NAMES:
        records = list(dataset.records(record_set=split))
        assert len(records) == summary.materials[split]
        for record in records:
            split_value = record[f"{split}/split"]
            assert (split_value.decode() if isinstance(split_value, bytes) else split_value) == split
            material_ids.append(int(record[f"{split}/material_id"]))
    assert len(material_ids) == len(set(material_ids)) == sum(summary.materials.values())
    assert len(list(dataset.records(record_set="splits"))) == len(material_ids)
    provenance = (tmp_path / "PROVENANCE.md").read_text()
    assert "poscar2d-test" in provenance and "CC0 1.0" in provenance and "seed 2" in provenance


def test_selected_materials_are_exported_whole(store: Session, tmp_path: Path) -> None:
    three_elements = select(Entry.material_id).join(Structure, Structure.entry_id == Entry.id).where(Structure.nelements == 3)
    summary = export_training_set(
        store.connection(), tmp_path, (0.8, 0.1, 0.1), seed=0, materials=three_elements, filter_text="nelements=3"
    )
    documents = [d for docs in _documents(tmp_path).values() for d in docs]
    expected = store.execute(
        text("SELECT count(DISTINCT e.material_id) FROM entry e JOIN structure s ON s.entry_id = e.id WHERE s.nelements = 3")
    ).scalar_one()
    assert len(documents) == sum(summary.materials.values()) == expected > 0
    for document in documents:
        assert any(e.get("structure", {}).get("nelements") == 3 for e in document["entries"])
    assert "nelements=3" in (tmp_path / "PROVENANCE.md").read_text()


def test_export_command(cli_env: str, store: Session, atlas2d, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "set"
    done = atlas2d("export", "--out", str(out), "--split", "0.5/0.25/0.25", "--seed", "3", ATLAS2D_DATABASE_URL=cli_env)
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == {
        "train.jsonl", "validation.jsonl", "test.jsonl", "splits.csv", "context.jsonld", "PROVENANCE.md", "croissant.json"
    }
    bad = atlas2d("export", "--out", str(out), "--split", "0.5/0.5", ATLAS2D_DATABASE_URL=cli_env)
    assert bad.returncode == 1 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
    (tmp_path / "file").write_text("x")
    clash = atlas2d("export", "--out", str(tmp_path / "file"), ATLAS2D_DATABASE_URL=cli_env)
    assert clash.returncode == 1 and "not a directory" in clash.stderr


def test_export_command_with_an_optimade_filter(cli_env: str, store: Session, atlas2d, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "filtered"
    done = atlas2d("export", "--out", str(out), "--filter", "nelements >= 2 AND _atlas2d_band_gap_pbe > 1", ATLAS2D_DATABASE_URL=cli_env)
    assert done.returncode == 0, done.stderr
    expected = set(
        store.execute(
            text(
                "SELECT DISTINCT e.material_id FROM entry e JOIN structure s ON s.entry_id = e.id "
                "JOIN property p ON p.entry_id = e.id "
                "WHERE s.nelements >= 2 AND p.name = 'band_gap' AND p.method = 'PBE' AND p.value > 1"
            )
        ).scalars()
    )
    with (out / "splits.csv").open() as handle:
        exported = {int(row["material_id"]) for row in csv.DictReader(handle)}
    assert exported == expected and expected
    assert "nelements >= 2 AND _atlas2d_band_gap_pbe > 1" in (out / "PROVENANCE.md").read_text()
    bad = atlas2d("export", "--out", str(tmp_path / "bad"), "--filter", "nelements = = 3", ATLAS2D_DATABASE_URL=cli_env)
    assert bad.returncode == 1 and bad.stderr.startswith("error: bad --filter") and "Traceback" not in bad.stderr
