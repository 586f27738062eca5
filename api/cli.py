"""The ``atlas2d`` command line: every command a user runs starts here.

Each group of commands lives in its own module under ``api/commands``; this file only
registers them, so ``atlas2d --help`` is the table of contents.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from atlas2d.api.commands import (
    dedup,
    demo,
    export,
    federate,
    fingerprint,
    graph,
    ingest,
    serve,
    similar,
    store,
)
from atlas2d.schema.embedded import exit_cleanly_on_signals

app = typer.Typer(
    name="atlas2d",
    help=(
        "atlas2d: a harmonized, deduplicated store of 2D materials (C2DB, 2DMatPedia, MC2D, "
        "experiments) on PostgreSQL + pgvector. Without ATLAS2D_DATABASE_URL it uses an "
        "embedded PostgreSQL in your user data directory. Start with 'atlas2d demo'."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="ATLAS2D_DATABASE_URL",
            help="PostgreSQL URL (with the vector extension). Default: the embedded server.",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    if database_url:
        os.environ["ATLAS2D_DATABASE_URL"] = database_url


app.command()(store.init)
app.command()(store.status)
app.command()(store.sql)
app.command()(ingest.ingest)
app.command()(demo.demo)
app.command()(serve.serve)
app.command()(federate.federate)
app.add_typer(fingerprint.app, name="fingerprint")
app.command("similar-bands")(fingerprint.similar_bands)
app.add_typer(dedup.app)
app.command()(similar.similar)
app.add_typer(graph.app, name="graph")
app.command()(export.export)


def main() -> None:
    """Entry point of the ``atlas2d`` console script."""
    exit_cleanly_on_signals()
    app()
