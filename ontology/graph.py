"""The store as an RDF graph in the atlas2d ontology.

Every material with at least one entry becomes an ``a2d:Material`` (and ``a2d:Monolayer``
when one of its structures is periodic in exactly two directions); its entries, their
structures (lattice, sites, elements), property values (with method and QUDT unit), source
data sets and the duplicate cluster that dedup formed (``entry.material_id``) follow. IRIs
are built from store ids (``id:material/12``, ``id:entry/34/structure``), so rebuilding the
graph of an unchanged store gives the same graph.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD
from sqlalchemy import Connection, func, select

from atlas2d.ontology.vocabulary import (
    A2D,
    ID,
    PREFIXES,
    method_iri,
    property_class,
    slug,
    unit_iri,
)
from atlas2d.schema.models import Entry, Material, PropertyValue, Source, Structure

Triple = tuple[URIRef | BNode, URIRef, URIRef | Literal]


def new_graph() -> Graph:
    """An empty graph with the atlas2d prefixes bound."""
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def build_graph(conn: Connection) -> Graph:
    """The whole store as one rdflib graph."""
    graph = new_graph()
    for triple in store_triples(conn):
        graph.add(triple)
    return graph


def store_triples(conn: Connection) -> Iterator[Triple]:
    """Every triple of the store's graph, read table by table with streaming cursors."""
    yield from _dataset_triples(conn)
    yield from _material_triples(conn)
    yield from _entry_triples(conn)
    yield from _structure_triples(conn)
    yield from _property_triples(conn)


def material_iri(material_id: int) -> URIRef:
    return ID[f"material/{material_id}"]


def entry_iri(entry_id: int) -> URIRef:
    return ID[f"entry/{entry_id}"]


def structure_iri(entry_id: int) -> URIRef:
    return ID[f"entry/{entry_id}/structure"]


def dataset_iri(name: str) -> URIRef:
    return ID[f"dataset/{slug(name)}"]


def _dataset_triples(conn: Connection) -> Iterator[Triple]:
    for source in conn.execute(select(Source)):
        node = dataset_iri(source.name)
        yield node, RDF.type, A2D.Dataset
        yield node, A2D.name, Literal(source.name)
        yield node, RDFS.label, Literal(source.title or source.name)
        for predicate, value in (
            (A2D.title, source.title),
            (A2D.license, source.license),
            (A2D.version, source.version),
            (A2D.citation, source.citation),
        ):
            if value:
                yield node, predicate, Literal(value)
        if source.url:
            yield node, A2D.url, Literal(source.url, datatype=XSD.anyURI)


def _material_triples(conn: Connection) -> Iterator[Triple]:
    """Materials and their duplicate clusters; only materials that some entry describes."""
    two_d = func.bool_or(Structure.nperiodic_dimensions == 2)
    rows = conn.execute(
        select(Entry.material_id, Material.chemical_formula_reduced, func.count(Entry.id), two_d)
        .join(Material, Material.id == Entry.material_id)
        .outerjoin(Structure, Structure.entry_id == Entry.id)
        .group_by(Entry.material_id, Material.chemical_formula_reduced)
        .order_by(Entry.material_id)
        .execution_options(yield_per=2000)
    )
    for material_id, formula, n_entries, is_monolayer in rows:
        node = material_iri(material_id)
        yield node, RDF.type, A2D.Material
        if is_monolayer:
            yield node, RDF.type, A2D.Monolayer
        yield node, A2D.materialId, Literal(material_id)
        yield node, A2D.chemicalFormulaReduced, Literal(formula)
        cluster = ID[f"cluster/{material_id}"]
        yield cluster, RDF.type, A2D.DuplicateCluster
        yield cluster, A2D.clusterOf, node
        yield cluster, A2D.clusterSize, Literal(n_entries)


def _entry_triples(conn: Connection) -> Iterator[Triple]:
    rows = conn.execute(
        select(Entry.id, Entry.source_key, Entry.material_id, Entry.revision, Source.name)
        .join(Source, Source.id == Entry.source_id)
        .order_by(Entry.id)
        .execution_options(yield_per=2000)
    )
    for entry_id, key, material_id, revision, source_name in rows:
        node = entry_iri(entry_id)
        yield node, RDF.type, A2D.Entry
        yield node, A2D.sourceKey, Literal(key)
        yield node, A2D.revision, Literal(revision)
        yield node, A2D.fromDataset, dataset_iri(source_name)
        if material_id is not None:
            yield node, A2D.describes, material_iri(material_id)
            yield material_iri(material_id), A2D.hasEntry, node
            yield ID[f"cluster/{material_id}"], A2D.hasMember, node


def _structure_triples(conn: Connection) -> Iterator[Triple]:
    rows = conn.execute(
        select(
            Structure.entry_id,
            Structure.lattice_vectors,
            Structure.cartesian_site_positions,
            Structure.species_at_sites,
            Structure.elements,
            Structure.nsites,
            Structure.nelements,
            Structure.nperiodic_dimensions,
            Structure.chemical_formula_reduced,
            Structure.chemical_formula_anonymous,
            Structure.thickness,
            Structure.vacuum,
            Structure.area,
        )
        .order_by(Structure.entry_id)
        .execution_options(yield_per=1000)
    )
    for row in rows:
        node = structure_iri(row.entry_id)
        yield entry_iri(row.entry_id), A2D.hasStructure, node
        yield node, RDF.type, A2D.Structure
        yield node, A2D.chemicalFormulaReduced, Literal(row.chemical_formula_reduced)
        yield node, A2D.chemicalFormulaAnonymous, Literal(row.chemical_formula_anonymous)
        yield node, A2D.nsites, Literal(row.nsites)
        yield node, A2D.nelements, Literal(row.nelements)
        yield node, A2D.nperiodicDimensions, Literal(row.nperiodic_dimensions)
        yield node, A2D.thickness, Literal(float(row.thickness))
        yield node, A2D.vacuum, Literal(float(row.vacuum))
        yield node, A2D.area, Literal(float(row.area))
        for symbol in row.elements:
            yield node, A2D.hasElement, _element(symbol)
        yield from _element_triples(row.elements)
        yield from _lattice_triples(node, row.lattice_vectors)
        for index, (symbol, position) in enumerate(zip(row.species_at_sites, row.cartesian_site_positions, strict=True)):
            site = ID[f"entry/{row.entry_id}/structure/site/{index}"]
            yield node, A2D.hasSite, site
            yield site, RDF.type, A2D.Site
            yield site, A2D.siteIndex, Literal(index)
            yield site, A2D.element, _element(symbol)
            for axis, coordinate in zip((A2D.x, A2D.y, A2D.z), position, strict=True):
                yield site, axis, Literal(float(coordinate))


def _element(symbol: str) -> URIRef:
    return ID[f"element/{symbol}"]


def _element_triples(symbols: list[str]) -> Iterator[Triple]:
    for symbol in symbols:
        yield _element(symbol), RDF.type, A2D.Element
        yield _element(symbol), A2D.symbol, Literal(symbol)


def _lattice_triples(structure: URIRef, vectors: list[list[float]]) -> Iterator[Triple]:
    node = URIRef(f"{structure}/lattice")
    matrix = np.asarray(vectors, dtype=float)
    lengths = np.linalg.norm(matrix, axis=1)
    cosine = float(np.dot(matrix[0], matrix[1]) / (lengths[0] * lengths[1]))
    yield structure, A2D.hasLattice, node
    yield node, RDF.type, A2D.Lattice
    yield node, A2D.latticeVectors, Literal(json.dumps(matrix.tolist()), datatype=RDF.JSON)
    for predicate, length in zip((A2D.lengthA, A2D.lengthB, A2D.lengthC), lengths, strict=True):
        yield node, predicate, Literal(float(length))
    yield node, A2D.gamma, Literal(math.degrees(math.acos(max(-1.0, min(1.0, cosine)))))


def _property_triples(conn: Connection) -> Iterator[Triple]:
    rows = conn.execute(
        select(
            PropertyValue.id,
            PropertyValue.entry_id,
            PropertyValue.name,
            PropertyValue.value,
            PropertyValue.value_text,
            PropertyValue.unit,
            PropertyValue.method,
            PropertyValue.source_field,
            PropertyValue.reference,
        )
        .order_by(PropertyValue.id)
        .execution_options(yield_per=5000)
    )
    seen_methods: set[str] = set()
    seen_units: set[str] = set()
    for row in rows:
        node = ID[f"property/{row.id}"]
        cls = property_class(row.name)
        yield entry_iri(row.entry_id), A2D.hasProperty, node
        yield node, RDF.type, A2D.Property
        if cls != A2D.Property:
            yield node, RDF.type, cls
        yield node, RDFS.label, Literal(row.name)
        if row.value is not None:
            yield node, A2D.numericValue, Literal(float(row.value))
        if row.value_text is not None:
            yield node, A2D.textValue, Literal(row.value_text)
        method, method_class = method_iri(row.method)
        yield node, A2D.method, method
        if row.method not in seen_methods:
            seen_methods.add(row.method)
            yield method, RDF.type, method_class
            yield method, RDFS.label, Literal(row.method)
        if row.unit:
            unit = unit_iri(row.unit)
            yield node, A2D.unit, unit
            if row.unit not in seen_units and unit.startswith(str(ID)):
                seen_units.add(row.unit)
                yield unit, RDFS.label, Literal(row.unit)
        if row.source_field:
            yield node, A2D.sourceField, Literal(row.source_field)
        if row.reference:
            yield node, A2D.reference, Literal(row.reference)
