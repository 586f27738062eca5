"""The store as an RDF graph: SHACL, SPARQL against SQL, and the graph commands."""

from __future__ import annotations

import json

import pytest
from rdflib import Graph, Literal
from rdflib.namespace import RDF
from sqlalchemy import text
from sqlalchemy.orm import Session

from atlas2d.ontology.graph import build_graph
from atlas2d.ontology.shacl import validate_graph
from atlas2d.ontology.sparql import SparqlError, run_sparql
from atlas2d.ontology.vocabulary import A2D, ID, ontology, property_classes
from atlas2d.testdata.graph import PBE_GAPS, seed_graph_store

QUESTION_SPARQL = """
SELECT DISTINCT ?id WHERE {
  ?m a a2d:Monolayer ; a2d:materialId ?id ; a2d:hasEntry ?computed, ?measured .
  ?computed a2d:hasProperty ?gap .
  ?gap a a2d:BandGap ; a2d:method a2d:PBE ; a2d:numericValue ?value .
  FILTER (?value >= 1.0 && ?value <= 2.0)
  ?measured a2d:hasProperty ?expt .
  ?expt a2d:method ?method .
  ?method a a2d:ExperimentalMeasurement .
}
"""

QUESTION_SQL = """
SELECT DISTINCT e.material_id FROM entry e JOIN property p ON p.entry_id = e.id
WHERE p.name = 'band_gap' AND p.method = 'PBE' AND p.value BETWEEN 1.0 AND 2.0
  AND EXISTS (SELECT 1 FROM entry e2 JOIN structure s ON s.entry_id = e2.id
              WHERE e2.material_id = e.material_id AND s.nperiodic_dimensions = 2)
  AND EXISTS (SELECT 1 FROM entry e3 JOIN property p3 ON p3.entry_id = e3.id
              WHERE e3.material_id = e.material_id AND (p3.method = 'expt' OR p3.method LIKE 'expt:%'))
"""


@pytest.fixture
def graph(session: Session) -> Graph:
    seed_graph_store(session)
    return build_graph(session.connection())


def test_ontology_maps_every_store_property_name() -> None:
    from atlas2d.ingest.vocabulary import PROPERTIES

    assert set(property_classes()) == set(PROPERTIES)
    assert (A2D.BandGap, None, None) in ontology()


def test_graph_of_real_structures_passes_shacl(graph: Graph, session: Session) -> None:
    report = validate_graph(graph)
    assert report.conforms, report.text
    counts = session.execute(
        text("SELECT (SELECT count(*) FROM structure), (SELECT count(*) FROM property), (SELECT sum(nsites) FROM structure)")
    ).one()
    assert len(set(graph.subjects(RDF.type, A2D.Structure))) == counts[0]
    assert len(set(graph.subjects(RDF.type, A2D.Property))) == counts[1]
    assert len(set(graph.subjects(RDF.type, A2D.Site))) == counts[2]
    assert len(set(graph.subjects(RDF.type, A2D.BandGap))) == len(PBE_GAPS) + 6


def test_broken_data_shows_shacl_violations(graph: Graph) -> None:
    gap = next(graph.subjects(A2D.numericValue, Literal(1.5)))
    graph.set((gap, A2D.numericValue, Literal(-0.3)))
    site = ID["entry/1/structure/site/0"]
    assert (site, RDF.type, A2D.Site) in graph
    graph.remove((site, A2D.element, None))
    report = validate_graph(graph)
    assert not report.conforms
    focuses = {(v.focus, v.path) for v in report.violations}
    assert (str(gap), str(A2D.numericValue)) in focuses
    assert (str(site), str(A2D.element)) in focuses


def test_sparql_question_equals_sql(graph: Graph, session: Session) -> None:
    expected = {row[0] for row in session.execute(text(QUESTION_SQL))}
    answered = {row[0] for row in run_sparql(graph, QUESTION_SPARQL).rows}
    assert answered == expected
    # Structures 1, 3 and 10 have a PBE gap in [1, 2] and an experimental value; 4 and 8 are out of range.
    assert len(expected) == 3
    with_pbe_in_range = session.execute(
        text("SELECT count(DISTINCT e.material_id) FROM entry e JOIN property p ON p.entry_id = e.id "
             "WHERE p.method = 'PBE' AND p.name = 'band_gap' AND p.value BETWEEN 1 AND 2")
    ).scalar_one()
    assert with_pbe_in_range > len(expected)


def test_sparql_rejects_bad_queries(graph: Graph) -> None:
    with pytest.raises(SparqlError, match="syntax"):
        run_sparql(graph, "SELECT ?x WHERE { ?x a2d:hasEntry }")
    with pytest.raises(SparqlError, match="only SELECT and ASK"):
        run_sparql(graph, "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
    assert run_sparql(graph, "ASK { ?m a a2d:Monolayer }").rows == [(True,)]


def test_graph_commands(cli_env: str, session: Session, atlas2d, tmp_path) -> None:  # noqa: ANN001
    seed_graph_store(session)
    built = atlas2d("graph", "build", ATLAS2D_DATABASE_URL=cli_env)
    assert built.returncode == 0, built.stderr
    assert "SHACL: conforms" in built.stdout
    answer = atlas2d("graph", "sparql", QUESTION_SPARQL, "--format", "json", ATLAS2D_DATABASE_URL=cli_env)
    assert answer.returncode == 0, answer.stderr
    assert len(json.loads(answer.stdout)) == 3
    for fmt, suffix in (("turtle", "ttl"), ("json-ld", "jsonld")):
        out = tmp_path / f"graph.{suffix}"
        exported = atlas2d("graph", "export", "--format", fmt, "--out", str(out), ATLAS2D_DATABASE_URL=cli_env)
        assert exported.returncode == 0, exported.stderr
        reread = Graph().parse(out, format=fmt)
        assert len(set(reread.subjects(RDF.type, A2D.Monolayer))) == len(PBE_GAPS)
    bad = atlas2d("graph", "sparql", "SELECT nonsense", ATLAS2D_DATABASE_URL=cli_env)
    assert bad.returncode == 1 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
    wrong = atlas2d("graph", "export", "--format", "xml", ATLAS2D_DATABASE_URL=cli_env)
    assert wrong.returncode == 1 and "turtle" in wrong.stderr
