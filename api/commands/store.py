"""``atlas2d init``, ``status`` and ``sql``: create, inspect and query the store."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated

import typer

from atlas2d.api.console import console, errors, fail, print_table
from atlas2d.api.store_access import open_store, settings_of, store_errors
from atlas2d.ingest.sources.registry import registry
from atlas2d.ingest.unmapped import unmapped_fields
from atlas2d.schema.migrate import upgrade
from atlas2d.schema.readonly import DEFAULT_TIMEOUT_S, QueryRefused, run_readonly, sql_url
from atlas2d.schema.status import store_status


def init(ctx: typer.Context) -> None:
    """Create the database schema, or migrate it to the newest version (safe to repeat)."""
    with open_store(settings_of(ctx)) as session:
        engine = session.get_bind()
        before, after = upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"database is up to date (schema {after}) at {where}")
    else:
        console.print(f"database migrated {before or 'empty'} -> {after} at {where}")


def status(
    ctx: typer.Context,
    unmapped: Annotated[
        bool, typer.Option("--unmapped", help="Also list the raw fields of stored records that no adapter maps to a value.")
    ] = False,
) -> None:
    """Show row counts per table, and entries and quarantined records per source."""
    with open_store(settings_of(ctx)) as session:
        where = session.get_bind().url.render_as_string(hide_password=True)
        found = store_status(session.connection())
        report = unmapped_fields(session, registry()) if unmapped else None
    console.print(f"store: {where}")
    print_table(["table", "rows"], found.tables, title="Tables")
    print_table(
        ["source", "version", "entries", "quarantined"],
        [(s.name, s.version, s.entries, s.quarantined) for s in found.sources],
        title="Sources",
    )
    if report is not None:
        print_table(
            ["source", "raw field", "entries"],
            [(f.source, f.field, f.entries) for f in report.fields],
            title="Raw fields no adapter maps (kept in entry.raw)",
        )
        if report.undeclared:
            console.print(f"adapters that declare no mapped fields (not checked): {', '.join(report.undeclared)}")


def sql(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="One SQL statement, e.g. \"SELECT * FROM materials_flat LIMIT 5\".")],
    output: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    limit: Annotated[int, typer.Option(min=0, help="Print at most this many rows (only these are fetched).")] = 1000,
    timeout: Annotated[
        float, typer.Option(help="Cancel the statement after this many seconds (0: no limit).")
    ] = DEFAULT_TIMEOUT_S,
) -> None:
    """Run read-only SQL against the store (as the atlas2d_sql role; writes are refused).

    Views made for SQL users: materials_flat (one row per material, gaps per method) and
    entries_flat (one row per source record).
    """
    if output not in {"table", "csv", "json"}:
        fail(f"unknown format {output!r}: use table, csv or json")
    settings = settings_of(ctx)
    with store_errors(settings, sql=True):
        try:
            result = run_readonly(query, url=sql_url(settings), limit=limit, timeout_s=timeout)
        except QueryRefused as exc:
            fail(str(exc))
    if output == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    elif output == "json":
        print(json.dumps([dict(zip(result.columns, r, strict=True)) for r in result.rows], default=str, indent=1))
    else:
        print_table(result.columns, result.rows)
    if result.more:
        errors.print(f"(the first {limit} rows; the statement returns more: raise --limit)", highlight=False)
