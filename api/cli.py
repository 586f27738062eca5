"""The ``atlas2d`` command line: every command a user runs starts here.

Each group of commands lives in its own module under ``api/commands``; this file only
registers them, so ``atlas2d --help`` is the table of contents. Its callback builds the one
``Settings`` value (options, else the ``ATLAS2D_*`` environment variables) that every
command finds in its context and passes on.
"""

from __future__ import annotations

from pathlib import Path
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
from atlas2d.schema.settings import Settings, default_data_dir

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
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="ATLAS2D_DATABASE_URL",
            help="PostgreSQL URL (with the vector extension). Default: the embedded server.",
            show_envvar=True,
        ),
    ] = None,
    readonly_url: Annotated[
        str | None,
        typer.Option(
            "--readonly-url",
            envvar="ATLAS2D_READONLY_URL",
            help="URL that read-only work (sql, serve, export, graph) connects with. Default: the database URL as atlas2d_reader.",
            show_envvar=True,
        ),
    ] = None,
    sql_url: Annotated[
        str | None,
        typer.Option(
            "--sql-url",
            envvar="ATLAS2D_SQL_URL",
            help="URL that 'atlas2d sql' connects with. Default: the database URL as atlas2d_sql.",
            show_envvar=True,
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="ATLAS2D_DATA_DIR",
            help="Where the embedded server keeps its data. Default: the user data directory (~/.local/share/atlas2d).",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    ctx.obj = Settings(
        database_url=database_url or None,
        readonly_url=readonly_url or None,
        sql_url=sql_url or None,
        data_dir=data_dir.expanduser() if data_dir else default_data_dir(),
    )


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
