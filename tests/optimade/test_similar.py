"""``/v1/extensions/similar`` against a real ``atlas2d serve`` process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.embeddings.bands.model import load_model
from atlas2d.embeddings.bands.refresh import refresh
from atlas2d.embeddings.bands.search import similar_by_bands
from atlas2d.embeddings.search import SEARCHES, resolve
from atlas2d.embeddings.structure.dedup import run_dedup
from atlas2d.embeddings.structure.search import similar_by_structure
from atlas2d.ingest.pipeline import ingest_streams
from atlas2d.ingest.sources.tight_binding import ADAPTER, band_records
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import Entry
from atlas2d.testdata.poscar import (
    POSCAR_SOURCE,
    poscar_structures,
    seed_store,
    structure_record,
)
from atlas2d.testdata.servers import atlas2d_server
from tests.optimade.support import fresh_database


@pytest.fixture(scope="module")
def band_server(template_url: str) -> Iterator[tuple[str, str]]:
    """A server over a store of fingerprinted tight-binding band structures, and its store URL."""
    with fresh_database(template_url) as url:
        engine = make_engine(url)
        ingest_streams(engine, ADAPTER, [("test", band_records(3, seed=5, name="test"))])
        with Session(engine) as session:
            refresh(session, load_model(device="cpu"))
            seed_store(session, [structure_record(key, s) for key, s in poscar_structures(12)])
            run_dedup(session, device="cpu")
        engine.dispose()
        with atlas2d_server(url) as base:
            yield base, url


def test_band_neighbours_match_the_store_search(band_server: tuple[str, str]) -> None:
    base, url = band_server
    query = "tight-binding-generated/kagome-s5-00001"
    response = httpx.get(f"{base}/v1/extensions/similar", params={"id": query, "by": "bands", "k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"] == {"query": query, "by": "bands", "k": 5, "more_data_available": False}
    engine = make_engine(url)
    with Session(engine) as session:
        entry_id = session.execute(select(Entry.id).where(Entry.source_key == "kagome-s5-00001")).scalar_one()
        expected = similar_by_bands(session, entry_id, 5)
    engine.dispose()
    assert [n["id"] for n in body["data"]] == [f"{n.source}/{n.source_key}" for n in expected]
    assert [n["distance"] for n in body["data"]] == pytest.approx([n.distance for n in expected])
    assert query not in {n["id"] for n in body["data"]}


def test_structure_neighbours_match_the_store_search(band_server: tuple[str, str]) -> None:
    base, url = band_server
    key = poscar_structures(12)[0][0]
    response = httpx.get(f"{base}/v1/extensions/similar", params={"id": f"{POSCAR_SOURCE.name}/{key}", "by": "structures", "k": 4})
    assert response.status_code == 200, response.text
    engine = make_engine(url)
    with Session(engine) as session:
        entry_id = session.execute(select(Entry.id).where(Entry.source_key == key)).scalar_one()
        expected = similar_by_structure(session, entry_id, 4)
    engine.dispose()
    assert [n["entry_id"] for n in response.json()["data"]] == [n.entry_id for n in expected]
    assert len(expected) == 4


def test_cli_similar_by_bands_lists_the_same_neighbours(band_server: tuple[str, str], atlas2d) -> None:  # noqa: ANN001
    _, url = band_server
    engine = make_engine(url)
    with Session(engine) as session:
        entry_id = session.execute(select(Entry.id).where(Entry.source_key == "kagome-s5-00001")).scalar_one()
        expected = similar_by_bands(session, entry_id, 3)
    engine.dispose()
    done = atlas2d("similar", str(entry_id), "--by", "bands", "--k", "3", ATLAS2D_DATABASE_URL=url, COLUMNS="200")
    assert done.returncode == 0, done.stderr
    listed = [line.split("│")[4].strip() for line in done.stdout.splitlines() if "tight-binding-generated" in line]
    assert listed == [n.source_key for n in expected]
    wrong = atlas2d("similar", str(entry_id), "--by", "smell", ATLAS2D_DATABASE_URL=url)
    assert wrong.returncode == 1 and wrong.stderr.startswith("error: unknown --by 'smell'")


QUERIES = {"structure": f"{POSCAR_SOURCE.name}/{poscar_structures(12)[0][0]}", "bands": "tight-binding-generated/kagome-s5-00001"}
"""A query entry of each registered search (a search registered without one fails the test below)."""


@pytest.mark.parametrize("by", list(SEARCHES))
def test_every_registered_search_answers_through_cli_and_http(band_server: tuple[str, str], atlas2d, by: str) -> None:  # noqa: ANN001
    base, url = band_server
    query = QUERIES[by]
    engine = make_engine(url)
    with Session(engine) as session:
        expected = [n.entry_id for n in SEARCHES[by](session, resolve(session, query), 3)]
    engine.dispose()
    assert len(expected) == 3

    response = httpx.get(f"{base}/v1/extensions/similar", params={"id": query, "by": by, "k": 3})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [n["entry_id"] for n in data] == expected
    assert all(set(n) == {"id", "entry_id", "material_id", "formula", "method", "distance"} for n in data)

    done = atlas2d("similar", query, "--by", by, "--k", "3", ATLAS2D_DATABASE_URL=url, COLUMNS="200")
    assert done.returncode == 0, done.stderr
    cells = [line.split("│") for line in done.stdout.splitlines()]
    assert [int(c[2]) for c in cells if len(c) == 8 and c[2].strip().isdigit()] == expected


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"id": "tight-binding-generated/no-such-model"}, 404),
        ({"id": "no-slash-at-all"}, 404),
        ({"id": "tight-binding-generated/kagome-s5-00001", "by": "colour"}, 400),
        ({"id": "tight-binding-generated/kagome-s5-00001", "k": "0"}, 400),
        ({"id": "tight-binding-generated/kagome-s5-00001", "k": "1000"}, 400),
        ({"id": "tight-binding-generated/kagome-s5-00001'; DROP TABLE entry; --"}, 404),
        ({}, 400),
    ],
)
def test_bad_requests_get_json_api_errors(band_server: tuple[str, str], params: dict[str, str], status: int) -> None:
    response = httpx.get(f"{band_server[0]}/v1/extensions/similar", params=params)
    assert response.status_code == status, response.text
    assert response.json()["errors"]
