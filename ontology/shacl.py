"""SHACL validation of atlas2d graphs against ``ontology/shapes.ttl``.

The ontology is passed to pyshacl as the ontology graph, so a shape that targets
``a2d:Property`` also checks every ``a2d:BandGap`` and a shape on ``a2d:Material`` every
``a2d:Monolayer`` (RDFS subclass reasoning only; the data graph itself is not changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pyshacl import validate
from rdflib import Graph
from rdflib.namespace import RDF, SH

from atlas2d.ontology.vocabulary import SHAPES_PATH, ontology


@dataclass(frozen=True)
class Violation:
    """One SHACL result: the node that failed, the path, and the shape's message."""

    focus: str
    path: str
    message: str


@dataclass(frozen=True)
class ValidationReport:
    conforms: bool
    violations: list[Violation]
    text: str


@lru_cache(maxsize=1)
def shapes() -> Graph:
    return Graph().parse(SHAPES_PATH, format="turtle")


def validate_graph(graph: Graph) -> ValidationReport:
    """Validate ``graph`` with the atlas2d shapes and the ontology's class hierarchy."""
    conforms, report, text = validate(
        graph, shacl_graph=shapes(), ont_graph=ontology(), inference="none", advanced=False, allow_warnings=False
    )
    violations = [
        Violation(
            focus=str(report.value(result, SH.focusNode)),
            path=str(report.value(result, SH.resultPath)),
            message=str(report.value(result, SH.resultMessage)),
        )
        for result in report.subjects(RDF.type, SH.ValidationResult)
    ]
    return ValidationReport(conforms=bool(conforms), violations=violations, text=str(text))
