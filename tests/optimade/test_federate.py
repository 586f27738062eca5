"""``atlas2d federate`` against two atlas2d servers and the optimade reference server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from optimade.server.data import structures as reference_structures
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atlas2d.api.cli import app as cli
from atlas2d.ingest.records import SourceInfo
from atlas2d.schema.database import make_engine
from atlas2d.testdata.poscar import (
    POSCAR_SOURCE,
    poscar_structures,
    seed_store,
    structure_record,
)
from atlas2d.testdata.servers import atlas2d_server, free_port
from tests.optimade.support import Expected, fresh_database, reference_server

Store = tuple[str, dict[str, Expected]]
MIRROR = SourceInfo(name="poscar2d-mirror", title="The second half of the poscar2d test structures, served separately")
FILTER = 'elements HAS "Ag"'


@pytest.fixture(scope="module")
def mirror(template_url: str) -> Iterator[tuple[str, list[str]]]:
    """A second atlas2d server holding structures 8-39 of the first one under another source."""
    records = [structure_record(k, s) for k, s in poscar_structures(40)[8:]]
    with fresh_database(template_url) as url:
        engine = make_engine(url)
        with Session(engine) as session:
            seed_store(session, records, MIRROR)
        engine.dispose()
        with atlas2d_server(url) as base:
            yield base, [r.source_key for r in records if "Ag" in {site.specie.symbol for site in r.structure}]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with reference_server(str(tmp_path_factory.mktemp("optimade-logs"))) as base:
        yield base


def test_federate_merges_three_providers(
    atlas2d, server: str, store: Store, mirror: tuple[str, list[str]], reference: str, tmp_path: Path
) -> None:
    output = tmp_path / "hits.json"
    result = atlas2d("federate", FILTER, "--providers", server, "--providers", mirror[0], "--providers", reference, "--output", str(output))
    assert result.returncode == 0, result.stderr
    payload = json.loads(output.read_text())
    assert payload["errors"] == {}
    hits = [(hit["provider"], hit["id"]) for m in payload["materials"] for hit in m["hits"]]
    assert len(hits) == len(set(hits))
    by_provider = {url: {i for p, i in hits if p == url} for url in (server, mirror[0], reference)}
    assert by_provider[server] == {k for k, e in store[1].items() if "Ag" in e.elements}
    assert by_provider[mirror[0]] == {f"{MIRROR.name}/{key}" for key in mirror[1]}
    assert by_provider[reference] == {s["task_id"] for s in reference_structures if "Ag" in s["elements"]}
    assert mirror[1], "the mirror must share some Ag structures with the first server"

    group_of = {(hit["provider"], hit["id"]): i for i, m in enumerate(payload["materials"]) for hit in m["hits"]}
    for key in mirror[1]:
        same = group_of[(mirror[0], f"{MIRROR.name}/{key}")]
        assert group_of[(server, f"{POSCAR_SOURCE.name}/{key}")] == same
        assert payload["materials"][same]["providers"] == sorted([server, mirror[0]])
    for m in payload["materials"]:
        formulas = {hit["attributes"].get("chemical_formula_reduced") for hit in m["hits"]}
        assert formulas == {m["chemical_formula_reduced"]}
    assert len(payload["materials"]) < len(hits)
    assert "distinct materials" in result.stdout


def test_federate_reports_a_dead_provider_and_keeps_the_others(atlas2d, server: str, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    output = tmp_path / "hits.json"
    result = atlas2d("federate", FILTER, "--providers", server, "--providers", dead, "--output", str(output), "--timeout", "3")
    assert result.returncode == 0, result.stderr
    payload = json.loads(output.read_text())
    assert list(payload["errors"]) == [dead]
    assert payload["materials"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["elements HAS", "--providers", "http://127.0.0.1:1"], "invalid filter"),
        ([FILTER, "--providers", "ftp://example.org"], "must start with http"),
        ([FILTER, "--providers", "http://127.0.0.1:1", "--timeout", "1"], "no provider answered"),
    ],
)
def test_federate_user_errors_are_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["federate", *args])
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
