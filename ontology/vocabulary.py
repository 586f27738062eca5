"""Names of the atlas2d ontology as Python objects: namespaces, and store terms -> IRIs.

The store speaks in strings (property ``band_gap``, method ``PBE``, unit ``eV/atom``); the
graph speaks in IRIs. This module is the one translation table, read from the ontology file
itself where it can be, so the Turtle and the code never disagree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import RDF

from atlas2d.ingest import vocabulary

A2D = Namespace("https://atlas2d.org/ontology#")
"""The ontology: classes and properties."""

ID = Namespace("https://atlas2d.org/id/")
"""Instances: materials, entries, structures… (``id:material/12``)."""

UNIT = Namespace("http://qudt.org/vocab/unit/")
QUDT = Namespace("http://qudt.org/schema/qudt/")
OPTIMADE = Namespace("https://schemas.optimade.org/defs/v1.2/properties/optimade/structures/")

ONTOLOGY_PATH = Path(__file__).with_name("atlas2d.ttl")
SHAPES_PATH = Path(__file__).with_name("shapes.ttl")

PREFIXES = {"a2d": A2D, "id": ID, "unit": UNIT, "qudt": QUDT, "opt": OPTIMADE}
"""Prefixes bound in every graph and SPARQL query atlas2d makes."""

UNITS: dict[str, URIRef] = {
    "eV": UNIT.EV,
    "eV/atom": A2D["EV-PER-ATOM"],
    "meV/Å^2": A2D["MilliEV-PER-ANGSTROM2"],
    "μB": A2D.BohrMagneton,
    "m_e": A2D.ElectronMass,
    "K": UNIT.K,
    "Å": UNIT.ANGSTROM,
    "N/m": UNIT["N-PER-M"],
    "m/s": UNIT["M-PER-SEC"],
}
"""Store unit strings (``atlas2d.ingest.vocabulary.PROPERTIES``) -> QUDT or atlas2d unit IRIs."""

METHODS: dict[str, URIRef] = {method: A2D[term] for method, term in vocabulary.METHODS.items()}
"""Store method strings -> the method individuals the ontology defines (named in ``atlas2d.ingest.vocabulary``)."""


@lru_cache(maxsize=1)
def ontology() -> Graph:
    """The parsed ontology (read once per process)."""
    return Graph().parse(ONTOLOGY_PATH, format="turtle")


@lru_cache(maxsize=1)
def property_classes() -> dict[str, URIRef]:
    """Store property name -> its ontology class, from the classes' ``a2d:propertyName``."""
    return {str(name): URIRef(cls) for cls, name in ontology().subject_objects(A2D.propertyName)}


def property_class(name: str) -> URIRef:
    """The class of a store property; names outside the vocabulary are plain ``a2d:Property``."""
    return property_classes().get(name, A2D.Property)


@lru_cache(maxsize=4096)
def method_iri(method: str) -> tuple[URIRef, URIRef]:
    """The IRI of a store method string and its class (computational or experimental).

    ``expt:<technique>`` becomes an experimental method of its own; any other unknown
    string is taken as a computational method, so no value loses its method.
    """
    if method in METHODS:
        iri = METHODS[method]
        return iri, URIRef(ontology().value(iri, RDF.type))
    if vocabulary.is_experimental(method):
        return ID[f"method/{slug(method)}"], A2D.ExperimentalMeasurement
    return ID[f"method/{slug(method)}"], A2D.ComputationalMethod


@lru_cache(maxsize=4096)
def unit_iri(unit: str) -> URIRef:
    """The IRI of a store unit string; an unknown unit gets an atlas2d IRI of its own."""
    return UNITS.get(unit, ID[f"unit/{slug(unit)}"])


def slug(text: str) -> str:
    """``text`` made safe as the last segment of an IRI (percent-encoded, reversible)."""
    return quote(text, safe="")
