"""Write the atlas2d graph into a Neo4j-protocol server, idempotently.

The RDF graph becomes a property graph: every typed IRI is a node labelled ``Atlas2d`` plus
the local names of its atlas2d classes (``:Atlas2d:Material:Monolayer``) with its literals
as properties (``iri`` is the key); an IRI-valued triple between two nodes is a
relationship named after the predicate (``a2d:hasEntry`` -> ``HAS_ENTRY``); an IRI that is
no node (a QUDT unit) is kept as a string property.

A sync reads what the server holds under ``:Atlas2d``, compares, and writes only the
difference in batches of ``UNWIND $rows AS row MERGE …``: nodes and relationships that left
the store are deleted, changed nodes get their properties replaced, new ones are merged.
A second sync of an unchanged store therefore writes nothing.

Cypher used (and nothing else, so that both Neo4j 5 and FalkorDB's Bolt endpoint accept
it): ``UNWIND``, ``MATCH``, ``MERGE`` with literal labels, ``SET n = map``, ``DELETE``,
``DETACH DELETE``, ``labels()``, ``properties()``, ``type()`` and one
``CREATE INDEX FOR (n:Atlas2d) ON (n.iri)`` (without ``IF NOT EXISTS``, which FalkorDB
refuses; an index that already exists is kept).

Batches are bounded in rows (``batch_size``) and in bytes (``batch_bytes``, the JSON size
of the rows plus the query): FalkorDB 4.16's Bolt endpoint crashes on a message of 4 KiB or
more, so the default stays below that; against Neo4j raise it for fewer round trips.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from neo4j import Driver
from neo4j.exceptions import Neo4jError
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS

from atlas2d.ontology.vocabulary import A2D

DEFAULT_BATCH_BYTES = 3500
"""Largest batch message: below the 4 KiB Bolt messages FalkorDB 4.16 can take."""

BASE_LABEL = "Atlas2d"
"""Every node the sync manages carries this label; nothing else on the server is touched."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Node:
    labels: tuple[str, ...]
    properties: dict[str, Any]


@dataclass
class PropertyGraph:
    """Nodes by IRI and relationships as (start IRI, type, end IRI)."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass
class SyncCounts:
    """What one sync changed on the server."""

    nodes_created: int = 0
    nodes_updated: int = 0
    nodes_deleted: int = 0
    relationships_created: int = 0
    relationships_deleted: int = 0

    @property
    def changed(self) -> bool:
        return any(vars(self).values())


def property_graph(graph: Graph) -> PropertyGraph:
    """The property-graph form of an atlas2d RDF graph (see the module docstring)."""
    nodes: dict[URIRef, set[str]] = defaultdict(set)
    for subject, cls in graph.subject_objects(RDF.type):
        if isinstance(subject, URIRef) and str(cls).startswith(str(A2D)):
            nodes[subject].add(_checked(str(cls).removeprefix(str(A2D))))
    result = PropertyGraph()
    for subject, labels in nodes.items():
        values: dict[str, list[Any]] = defaultdict(list)
        for predicate, obj in graph.predicate_objects(subject):
            if predicate == RDF.type:
                continue
            if isinstance(obj, URIRef) and obj in nodes:
                result.edges.add((str(subject), _relationship_type(predicate), str(obj)))
            else:
                values[_key(predicate)].append(_value(obj))
        properties: dict[str, Any] = {key: v[0] if len(v) == 1 else _list(v) for key, v in values.items()}
        properties["iri"] = str(subject)
        result.nodes[str(subject)] = Node(labels=tuple(sorted(labels)), properties=properties)
    return result


def read_server(driver: Driver, database: str | None = None) -> PropertyGraph:
    """The ``:Atlas2d`` nodes and relationships the server holds now."""
    result = PropertyGraph()
    with driver.session(database=database) as session:
        for record in session.run(f"MATCH (n:{BASE_LABEL}) RETURN n.iri AS iri, labels(n) AS labels, properties(n) AS props"):
            labels = tuple(sorted(label for label in record["labels"] if label != BASE_LABEL))
            result.nodes[record["iri"]] = Node(labels=labels, properties=dict(record["props"]))
        for record in session.run(
            f"MATCH (a:{BASE_LABEL})-[r]->(b:{BASE_LABEL}) RETURN a.iri AS s, type(r) AS t, b.iri AS o"
        ):
            result.edges.add((record["s"], record["t"], record["o"]))
    return result


def sync(
    driver: Driver,
    graph: Graph,
    database: str | None = None,
    batch_size: int = 1000,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    on_batch: Callable[[int], None] | None = None,
) -> SyncCounts:
    """Make the server's ``:Atlas2d`` subgraph equal to ``graph``; return what changed.

    ``on_batch(n)`` is called after each written batch of ``n`` rows (for progress bars).
    """
    desired = property_graph(graph)
    current = read_server(driver, database)
    counts = SyncCounts()
    stale = [
        iri for iri, node in current.nodes.items() if iri not in desired.nodes or node.labels != desired.nodes[iri].labels
    ]
    removed = set(stale)
    create = [iri for iri in desired.nodes if iri not in current.nodes or iri in removed]
    update = [
        iri
        for iri, node in desired.nodes.items()
        if iri in current.nodes and iri not in removed and not _same(current.nodes[iri].properties, node.properties)
    ]
    old_edges = {e for e in current.edges - desired.edges if e[0] not in removed and e[2] not in removed}
    new_edges = desired.edges - {e for e in current.edges if e[0] not in removed and e[2] not in removed}

    def run(query: str, rows: list[Any]) -> None:
        for batch in _batches(rows, batch_size, batch_bytes - len(query.encode())):
            with driver.session(database=database) as session:
                session.run(query, rows=batch).consume()
            if on_batch:
                on_batch(len(batch))

    if not current.nodes:
        _create_index(driver, database)
    run(f"UNWIND $rows AS iri MATCH (n:{BASE_LABEL} {{iri: iri}}) DETACH DELETE n", stale)
    counts.nodes_deleted = len(stale)
    for rel_type, rows in _by_type(old_edges).items():
        run(
            f"UNWIND $rows AS row MATCH (a:{BASE_LABEL} {{iri: row.s}})-[r:{rel_type}]->(b:{BASE_LABEL} {{iri: row.o}}) DELETE r",
            rows,
        )
    counts.relationships_deleted = len(old_edges)
    by_labels: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for iri in create:
        node = desired.nodes[iri]
        by_labels[node.labels].append({"iri": iri, "props": node.properties})
    for labels, rows in by_labels.items():
        label_text = "".join(f":{label}" for label in (BASE_LABEL, *labels))
        run(f"UNWIND $rows AS row MERGE (n{label_text} {{iri: row.iri}}) SET n = row.props", rows)
    counts.nodes_created = len(create)
    run(
        f"UNWIND $rows AS row MATCH (n:{BASE_LABEL} {{iri: row.iri}}) SET n = row.props",
        [{"iri": iri, "props": desired.nodes[iri].properties} for iri in update],
    )
    counts.nodes_updated = len(update)
    for rel_type, rows in _by_type(new_edges).items():
        run(
            f"UNWIND $rows AS row MATCH (a:{BASE_LABEL} {{iri: row.s}}) MATCH (b:{BASE_LABEL} {{iri: row.o}}) "
            f"MERGE (a)-[:{rel_type}]->(b)",
            rows,
        )
    counts.relationships_created = len(new_edges)
    return counts


def _same(server: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Property maps equal, floats to 1e-6: FalkorDB's Bolt endpoint returns 6 decimals."""
    if server.keys() != wanted.keys():
        return False
    for key, value in wanted.items():
        other = server[key]
        if isinstance(value, float) and isinstance(other, int | float):
            if not math.isclose(value, other, rel_tol=1e-6, abs_tol=1e-6):
                return False
        elif value != other:
            return False
    return True


def _create_index(driver: Driver, database: str | None) -> None:
    """Index ``iri`` so that MATCH/MERGE by IRI stay fast; keep an index that exists.

    FalkorDB refuses ``IF NOT EXISTS`` and answers an existing index with a generic
    "unknown error", so any error here is taken to mean the index is there; a real
    connection or server problem surfaces at the first write, which follows at once.
    """
    try:
        with driver.session(database=database) as session:
            session.run(f"CREATE INDEX FOR (n:{BASE_LABEL}) ON (n.iri)").consume()
    except Neo4jError:
        pass


def _by_type(edges: Iterable[tuple[str, str, str]]) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for start, rel_type, end in sorted(edges):
        grouped[rel_type].append({"s": start, "o": end})
    return grouped


def _batches(rows: list[Any], size: int, max_bytes: int) -> Iterator[list[Any]]:
    """Consecutive slices of at most ``size`` rows and about ``max_bytes`` bytes (one row at least)."""
    batch: list[Any] = []
    used = 0
    for row in rows:
        cost = len(json.dumps(row, ensure_ascii=False).encode())
        if batch and (len(batch) == size or used + cost > max_bytes):
            yield batch
            batch, used = [], 0
        batch.append(row)
        used += cost
    if batch:
        yield batch


def _checked(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{name!r} cannot be a Cypher label or relationship type")
    return name


def _key(predicate: URIRef) -> str:
    if predicate == RDFS.label:
        return "label"
    return _checked(str(predicate).removeprefix(str(A2D)).rsplit("#", 1)[-1].rsplit("/", 1)[-1])


def _relationship_type(predicate: URIRef) -> str:
    """``a2d:hasEntry`` -> ``HAS_ENTRY``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", _key(predicate)).upper()


def _value(obj: Any) -> Any:
    if isinstance(obj, Literal):
        value = obj.toPython()
        for kind in (bool, int, float):
            if isinstance(value, kind) and not isinstance(value, Literal):
                return kind(value)
    return str(obj)


def _list(values: list[Any]) -> list[Any]:
    """A homogeneous, ordered list (Cypher lists of properties must be one type)."""
    if len({type(v) for v in values}) > 1:
        values = [str(v) for v in values]
    return sorted(values)
