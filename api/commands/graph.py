"""``atlas2d graph build|sparql|export|sync``: the store as a knowledge graph.

The graph is built from the store on every call (it is a view, never a second copy that
could go stale); ``graph build --out FILE`` saves one for ``graph sparql --graph FILE``.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rdflib import Graph

from atlas2d.api.console import console, fail, print_table, progress
from atlas2d.api.store_access import open_store, settings_of
from atlas2d.schema.settings import Settings

app = typer.Typer(
    help=(
        "The store as an RDF knowledge graph in the atlas2d ontology (ontology/atlas2d.ttl): "
        "build and SHACL-check it, query it with SPARQL, export it as Turtle or JSON-LD, "
        "or sync it into a Neo4j-protocol server."
    ),
    no_args_is_help=True,
)

RDF_FORMATS = {"turtle": "turtle", "json-ld": "json-ld", "nt": "nt"}


def _store_graph(settings: Settings, show_progress: bool = True) -> Graph:
    """The graph of the store; no progress bar when stdout carries data (csv, json, RDF)."""
    from contextlib import nullcontext

    from atlas2d.ontology.graph import new_graph, store_triples

    graph = new_graph()
    with open_store(settings, readonly=True) as session, (progress() if show_progress else nullcontext()) as bar:
        task = bar.add_task("reading the store into the graph (triples)", total=None) if bar else None
        for n, triple in enumerate(store_triples(session.connection()), start=1):
            graph.add(triple)
            if bar and n % 10000 == 0:
                bar.update(task, completed=n)
        if bar:
            bar.update(task, completed=len(graph), total=len(graph))
    return graph


def _check_format(fmt: str) -> str:
    if fmt not in RDF_FORMATS:
        fail(f"unknown format {fmt!r}: use {', '.join(RDF_FORMATS)}")
    return RDF_FORMATS[fmt]


@app.command()
def build(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="Also write the graph to this file.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="File format of --out: turtle, json-ld or nt.")] = "turtle",
    validate: Annotated[bool, typer.Option(help="Check the graph against ontology/shapes.ttl (SHACL).")] = True,
) -> None:
    """Build the graph of the whole store, count nodes per class and check it with SHACL.

    Exits with status 1 when the graph breaks a SHACL shape, listing the first violations.
    """
    from rdflib.namespace import RDF

    from atlas2d.ontology.shacl import validate_graph
    from atlas2d.ontology.vocabulary import A2D

    rdf_format = _check_format(fmt)
    graph = _store_graph(settings_of(ctx))
    classes = Counter(str(o).removeprefix(str(A2D)) for o in graph.objects(None, RDF.type) if str(o).startswith(str(A2D)))
    print_table(["class", "nodes"], sorted(classes.items()), title=f"Graph: {len(graph)} triples")
    if out is not None:
        graph.serialize(destination=out, format=rdf_format)
        console.print(f"wrote {out}")
    if not validate:
        return
    report = validate_graph(graph)
    if report.conforms:
        console.print("SHACL: conforms")
        return
    print_table(["node", "path", "message"], [(v.focus, v.path, v.message) for v in report.violations[:20]])
    fail(f"SHACL: {len(report.violations)} violation(s)")


@app.command()
def sparql(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help="A SELECT or ASK query; prefixes a2d:, id:, unit:, qudt:, opt:, rdf:, rdfs:, xsd: are predeclared.")
    ],
    graph_file: Annotated[
        Path | None, typer.Option("--graph", help="Query a graph file from 'graph build --out' instead of the store.")
    ] = None,
    output: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    limit: Annotated[int, typer.Option(help="Print at most this many rows.")] = 1000,
) -> None:
    """Answer a SPARQL query over the graph of the store.

    Example: atlas2d graph sparql "SELECT ?f WHERE { ?m a a2d:Monolayer ; a2d:chemicalFormulaReduced ?f }"
    """
    from atlas2d.ontology.sparql import SparqlError, run_sparql

    if output not in {"table", "csv", "json"}:
        fail(f"unknown format {output!r}: use table, csv or json")
    if graph_file is not None:
        if not graph_file.is_file():
            fail(f"no such graph file: {graph_file}")
        graph = Graph().parse(graph_file)
    else:
        graph = _store_graph(settings_of(ctx), show_progress=output == "table")
    try:
        result = run_sparql(graph, query)
    except SparqlError as exc:
        fail(str(exc))
    rows = result.rows[:limit]
    if output == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(rows)
    elif output == "json":
        print(json.dumps([dict(zip(result.columns, r, strict=True)) for r in rows], default=str, indent=1))
    else:
        print_table(result.columns, rows)


@app.command()
def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="turtle, json-ld or nt.")] = "turtle",
    out: Annotated[Path | None, typer.Option(help="Write here instead of to standard output.")] = None,
) -> None:
    """Export the graph of the whole store as Turtle, JSON-LD or N-Triples."""
    rdf_format = _check_format(fmt)
    graph = _store_graph(settings_of(ctx), show_progress=out is not None)
    if out is None:
        sys.stdout.write(graph.serialize(format=rdf_format))
    else:
        graph.serialize(destination=out, format=rdf_format)
        console.print(f"wrote {len(graph)} triples to {out}")


@app.command()
def sync(
    ctx: typer.Context,
    neo4j: Annotated[str, typer.Option("--neo4j", help="Bolt URL of the server, e.g. bolt://localhost:7687.")],
    user: Annotated[str | None, typer.Option(envvar="NEO4J_USER", help="User name (none for servers without auth).")] = None,
    password: Annotated[str | None, typer.Option(envvar="NEO4J_PASSWORD", help="Password.")] = None,
    database: Annotated[str | None, typer.Option(help="Database on the server; default: the server's default.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Most rows per UNWIND batch.")] = 1000,
    batch_bytes: Annotated[
        int, typer.Option(min=512, help="Most bytes per batch message; FalkorDB needs < 4096, Neo4j takes far more.")
    ] = 3500,
) -> None:
    """Write the graph into a Neo4j-protocol server (Neo4j 5, FalkorDB) and keep it in sync.

    Nodes carry the label Atlas2d plus their ontology classes; only Atlas2d nodes are
    touched. Re-running writes only what changed in the store and deletes what left it.
    """
    from neo4j import GraphDatabase
    from neo4j.exceptions import DriverError, Neo4jError

    from atlas2d.ontology.neo4j_sync import sync as sync_graph

    graph = _store_graph(settings_of(ctx))
    auth = (user, password or "") if user else None
    try:
        with GraphDatabase.driver(neo4j, auth=auth) as driver, progress() as bar:
            driver.verify_connectivity()
            task = bar.add_task("writing changed rows", total=None)
            counts = sync_graph(driver, graph, database=database, batch_size=batch_size, batch_bytes=batch_bytes,
                                on_batch=lambda n: bar.advance(task, n))
    except (Neo4jError, DriverError, OSError, ValueError) as exc:
        fail(f"graph sync to {neo4j} failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
    if not counts.changed:
        console.print("the server is already in sync with the store; nothing written")
        return
    print_table(["change", "count"], list(vars(counts).items()), title=f"synced to {neo4j}")
