"""Structures saved from another OPTIMADE provider are served with the provider's own
``immutable_id``, ``last_modified``, references and species names; every other entry keeps atlas2d's."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.api.optimade.fields import STRUCTURES
from atlas2d.api.optimade.filter import filter_clause
from atlas2d.schema.database import clone_database, make_engine
from atlas2d.schema.models import Entry
from atlas2d.testdata.poscar import poscar_structures, seed_store, structure_record
from atlas2d.testdata.servers import atlas2d_server
from tests.conftest import TEMPLATE, run_atlas2d

MOS2_LATTICE = [[3.19, 0.0, 0.0], [-1.595, 2.7626, 0.0], [0.0, 0.0, 20.0]]
MOS2_POSITIONS = [[0.0, 0.0, 10.0], [1.595, 0.9209, 11.56], [1.595, 0.9209, 8.44]]
REFERENCE = {"type": "references", "id": "smith2023", "attributes": {"doi": "10.1000/xyz", "year": "2023"}}
AC_SPECIES = [
    {"name": "Ac2", "chemical_symbols": ["Ac"], "concentration": [1.0]},
    {"name": "Ac1", "chemical_symbols": ["Ac"], "concentration": [1.0], "mass": [227.03], "original_name": "Ac_a"},
]
MOS2_SPECIES = [{"name": "Mo", "chemical_symbols": ["Mo"], "concentration": [1.0]}] + [
    {"name": name, "chemical_symbols": ["S"], "concentration": [1.0]} for name in ("S1", "S2")
]


def _resource(identifier: str, **attributes: Any) -> dict[str, Any]:
    base = {
        "lattice_vectors": MOS2_LATTICE,
        "cartesian_site_positions": MOS2_POSITIONS,
        "species_at_sites": ["Mo", "S1", "S2"],
        "species": MOS2_SPECIES,
        "dimension_types": [1, 1, 0],
    }
    return {"id": identifier, "type": "structures", "attributes": {**base, **attributes}}


@pytest.fixture(scope="module")
def served(template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``atlas2d serve`` over a store with four provider structures (ingested by the CLI) and two poscar2d ones."""
    url = clone_database(template_url, TEMPLATE, "t_provider_fields")
    cited = _resource("p1", immutable_id="8f2c-11aa", last_modified="2023-05-01T12:30:00+02:00")
    cited["relationships"] = {"references": {"data": [{"type": "references", "id": "smith2023"}]}}
    document = {
        "data": [
            cited,
            _resource("p2", last_modified="2023-02-30T00:00:00Z"),
            _resource("p3", immutable_id=42, last_modified="2021-01-01T00:00:00"),
            _resource(
                "ac",
                lattice_vectors=[[3.7, 0.0, 0.0], [-1.85, 3.2043, 0.0], [0.0, 0.0, 20.0]],
                cartesian_site_positions=[[0.0, 0.0, 9.0], [1.85, 1.0681, 11.0]],
                species_at_sites=["Ac1", "Ac2"],
                species=AC_SPECIES,
            ),
        ],
        "meta": {"provider": {"prefix": "prov", "name": "A provider"}},
        "included": [REFERENCE],
    }
    path = tmp_path_factory.mktemp("provider") / "structures.json"
    path.write_text(json.dumps(document))
    done = run_atlas2d("ingest", "optimade", str(path), ATLAS2D_DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    engine = make_engine(url)
    with Session(engine) as session:
        seed_store(session, [structure_record(key, structure) for key, structure in poscar_structures(2)])
    engine.dispose()
    with atlas2d_server(url) as base:
        yield base, url


def _structures(base: str, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base}/v1/structures", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _updated_at(url: str) -> dict[str, datetime]:
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.execute(select(Entry.source_key, Entry.updated_at)).all()
    engine.dispose()
    return {key: when for key, when in rows}


def test_provider_immutable_id_last_modified_and_references_are_served(served: tuple[str, str]) -> None:
    base, url = served
    by_id = {s["id"]: s["attributes"] for s in _structures(base)}
    assert len(by_id) == 6
    ours = _updated_at(url)
    cited, invalid, naive = by_id["optimade/prov:p1"], by_id["optimade/prov:p2"], by_id["optimade/prov:p3"]
    assert cited["immutable_id"] == "8f2c-11aa"
    assert datetime.fromisoformat(cited["last_modified"]) == datetime.fromisoformat("2023-05-01T10:30:00+00:00")
    assert cited["_atlas2d_provider_references"] == [REFERENCE]
    # A date that does not exist, a time without offset and a number as id: not the provider's, so ours / null.
    assert datetime.fromisoformat(invalid["last_modified"]) == ours["prov:p2"]
    assert datetime.fromisoformat(naive["last_modified"]) == ours["prov:p3"]
    assert invalid["immutable_id"] is None and naive["immutable_id"] is None
    assert invalid["_atlas2d_provider_references"] is None
    others = [attributes for identifier, attributes in by_id.items() if not identifier.startswith("optimade/")]
    assert len(others) == 2
    for attributes in others:
        key = attributes["_atlas2d_source_id"]
        assert attributes["immutable_id"] is None and attributes["_atlas2d_provider_references"] is None
        assert datetime.fromisoformat(attributes["last_modified"]) == ours[key]


def test_provider_species_names_and_objects_are_served(served: tuple[str, str]) -> None:
    by_id = {s["id"]: s["attributes"] for s in _structures(served[0])}
    ac, mos2 = by_id["optimade/prov:ac"], by_id["optimade/prov:p1"]
    assert ac["species_at_sites"] == ["Ac1", "Ac2"]
    assert ac["species"] == AC_SPECIES
    assert (ac["elements"], ac["nelements"], ac["chemical_formula_reduced"]) == (["Ac"], 1, "Ac")
    assert mos2["species_at_sites"] == ["Mo", "S1", "S2"]
    assert mos2["species"] == MOS2_SPECIES
    # the same through the single-entry route and response_fields
    response = httpx.get(f"{served[0]}/v1/structures/optimade/prov:ac", params={"response_fields": "species"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"] == {"species": AC_SPECIES}
    # entries of other sources: elements at sites, species built from them
    for identifier, attributes in by_id.items():
        if identifier.startswith("optimade/"):
            continue
        assert set(attributes["species_at_sites"]) == set(attributes["elements"])
        assert attributes["species"] == [
            {"name": e, "chemical_symbols": [e], "concentration": [1.0]} for e in attributes["elements"]
        ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('immutable_id = "8f2c-11aa"', {"optimade/prov:p1"}),
        ("immutable_id IS KNOWN", {"optimade/prov:p1"}),
        ('last_modified < "2023-05-01T11:00:00Z"', {"optimade/prov:p1"}),
        ('last_modified = "2023-05-01T10:30:00Z"', {"optimade/prov:p1"}),
        ("_atlas2d_provider_references IS KNOWN", {"optimade/prov:p1"}),
        (
            '_atlas2d_source = "optimade" AND _atlas2d_provider_references IS UNKNOWN',
            {"optimade/prov:p2", "optimade/prov:p3", "optimade/prov:ac"},
        ),
        ('species_at_sites HAS "Ac1"', {"optimade/prov:ac"}),
        ('species_at_sites HAS ALL "Ac1","Ac2"', {"optimade/prov:ac"}),
        ('species_at_sites HAS ONLY "Ac1","Ac2","Mo","S1","S2"', {f"optimade/prov:{k}" for k in ("ac", "p1", "p2", "p3")}),
        ('species_at_sites HAS "Ac"', set()),
        ('elements HAS "Ac"', {"optimade/prov:ac"}),
        ('species_at_sites HAS ANY "S1","Ac2"', {f"optimade/prov:{k}" for k in ("ac", "p1", "p2", "p3")}),
        ('_atlas2d_source = "optimade" AND species LENGTH 3', {"optimade/prov:p1", "optimade/prov:p2", "optimade/prov:p3"}),
        ("species LENGTH 2 AND nelements = 1", {"optimade/prov:ac"}),
    ],
)
def test_provider_fields_filter(served: tuple[str, str], query: str, expected: set[str]) -> None:
    assert {s["id"] for s in _structures(served[0], filter=query)} == expected


@pytest.mark.parametrize("query", ['species_at_sites HAS "Ac1"', 'species_at_sites HAS ANY "S1","Ac"'])
def test_species_at_sites_filters_read_the_gin_index(served: tuple[str, str], query: str) -> None:
    """The served names are an expression; its GIN index answers HAS only if the filter uses the very same one.

    Sequential and plain index scans are priced out, as on a large store: on six rows the planner would
    read the table (or walk the primary key). A filter whose expression differs from the index's still
    gets a (priced-out) sequential scan, so the assertion fails then.
    """
    statement = select(STRUCTURES.c.id).where(filter_clause(query))
    engine = make_engine(served[1])
    compiled = statement.compile(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        connection.exec_driver_sql("SET enable_indexscan = off")
        plan = "\n".join(connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars())
    engine.dispose()
    assert "Bitmap Index Scan on ix_structure_served_species_at_sites_gin" in plan, plan


def test_provider_references_only_filter_by_known(served: tuple[str, str]) -> None:
    response = httpx.get(f"{served[0]}/v1/structures", params={"filter": '_atlas2d_provider_references = "x"'}, timeout=30)
    assert response.status_code == 501
    assert "only IS KNOWN and IS UNKNOWN" in response.json()["errors"][0]["detail"]


def test_provider_references_are_described_and_not_sortable(served: tuple[str, str]) -> None:
    info = httpx.get(f"{served[0]}/v1/info/structures", timeout=30).json()["data"]["properties"]
    assert info["_atlas2d_provider_references"]["type"] == "list"
    assert info["_atlas2d_provider_references"]["sortable"] is False
    ids = [s["id"] for s in _structures(served[0], sort="_atlas2d_provider_references")]
    assert len(ids) == 6


def test_optimade_validator_accepts_the_provider_values(served: tuple[str, str]) -> None:
    """The reference validator over a store where some entries carry the provider's values (it samples those too)."""
    validator = Path(sys.executable).with_name("optimade-validator")
    result = subprocess.run([str(validator), "--json", "--random-seed", "2", served[0]], capture_output=True, text=True, timeout=300)
    summary = json.loads(result.stdout)
    assert summary["failure_count"] == 0, summary["failure_messages"]
    assert summary["internal_failure_count"] == 0, summary["internal_failure_messages"]
    assert summary["optional_failure_count"] == 0, summary["optional_failure_messages"]
