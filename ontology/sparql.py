"""SPARQL over an atlas2d graph, with the atlas2d prefixes already declared.

Users write ``a2d:BandGap`` without a PREFIX line; rdflib evaluates the query in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyparsing import ParseException
from rdflib import Graph, Literal
from rdflib.namespace import RDF, RDFS, XSD
from rdflib.plugins.sparql import prepareQuery

from atlas2d.ontology.vocabulary import PREFIXES


class SparqlError(ValueError):
    """The query does not parse or is not a SELECT or ASK query; the message says which."""


@dataclass(frozen=True)
class SparqlResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


NAMESPACES = {**PREFIXES, "rdf": RDF, "rdfs": RDFS, "xsd": XSD}


def run_sparql(graph: Graph, query: str) -> SparqlResult:
    """Answer a SELECT (rows of Python values) or ASK (one row, one boolean) query."""
    try:
        prepared = prepareQuery(query, initNs=NAMESPACES)
    except ParseException as exc:
        raise SparqlError(f"SPARQL syntax error at line {exc.lineno}, column {exc.col}: {exc.msg}") from exc
    except Exception as exc:  # rdflib raises plain Exceptions for unknown prefixes
        raise SparqlError(f"invalid SPARQL: {exc}") from exc
    kind = prepared.algebra.name
    if kind not in {"SelectQuery", "AskQuery"}:
        raise SparqlError(f"only SELECT and ASK queries are answered, not {kind.removesuffix('Query')}")
    result = graph.query(prepared)
    if kind == "AskQuery":
        return SparqlResult(columns=["ask"], rows=[(bool(result.askAnswer),)])
    columns = [str(v) for v in result.vars or []]
    rows = [tuple(_python(value) for value in row) for row in result]
    return SparqlResult(columns=columns, rows=rows)


def _python(value: Any) -> Any:
    if isinstance(value, Literal):
        return value.toPython()
    return None if value is None else str(value)
