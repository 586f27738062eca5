"""``atlas2d init``, ``status`` and ``sql``: create, inspect and query the store."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated

import typer
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, OperationalError

from atlas2d.api.console import console, errors, fail, print_table
from atlas2d.schema.database import DatabaseError, make_engine
from atlas2d.schema.migrate import upgrade
from atlas2d.schema.models import (
    BandStructure,
    ClusterOverride,
    Entry,
    Material,
    MergeEvidence,
    PropertyValue,
    Quarantine,
    Source,
    Structure,
)
from atlas2d.schema.readonly import DEFAULT_TIMEOUT_S, QueryRefused, run_readonly

COUNTED_TABLES = (Source, Material, Entry, Structure, PropertyValue, BandStructure, MergeEvidence, ClusterOverride, Quarantine)


def init() -> None:
    """Create the database schema, or migrate it to the newest version (safe to repeat)."""
    try:
        engine = make_engine()
        before, after = upgrade(engine)
    except (DatabaseError, OperationalError) as exc:
        fail(_first_line(exc))
    if before == after:
        console.print(f"database is up to date (schema {after}) at {_where(engine)}")
    else:
        console.print(f"database migrated {before or 'empty'} -> {after} at {_where(engine)}")


def status() -> None:
    """Show row counts per table, and entries and quarantined records per source."""
    try:
        engine = make_engine()
        with engine.connect() as conn:
            counts = [(m.__tablename__, conn.execute(select(func.count()).select_from(m)).scalar_one()) for m in COUNTED_TABLES]
            per_source = conn.execute(
                select(Source.name, Source.version, func.count(Entry.id))
                .outerjoin(Entry, Entry.source_id == Source.id)
                .group_by(Source.name, Source.version)
                .order_by(Source.name)
            ).all()
            quarantined = dict(
                conn.execute(select(Quarantine.source_name, func.count()).group_by(Quarantine.source_name)).all()
            )
    except (DatabaseError, DBAPIError) as exc:
        fail(f"{_first_line(exc)} (did you run 'atlas2d init'?)")
    console.print(f"store: {_where(engine)}")
    print_table(["table", "rows"], counts, title="Tables")
    names = sorted({name for name, _, _ in per_source} | set(quarantined))
    versions = {name: (version, n) for name, version, n in per_source}
    rows = [(name, versions.get(name, (None, 0))[0], versions.get(name, (None, 0))[1], quarantined.get(name, 0)) for name in names]
    print_table(["source", "version", "entries", "quarantined"], rows, title="Sources")


def sql(
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
    try:
        result = run_readonly(query, limit=limit, timeout_s=timeout)
    except (DatabaseError, QueryRefused) as exc:
        fail(str(exc))
    columns, rows = result.columns, result.rows
    if output == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif output == "json":
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=1))
    else:
        print_table(columns, rows)
    if result.more:
        errors.print(f"(the first {limit} rows; the statement returns more: raise --limit)", highlight=False)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _where(engine) -> str:  # noqa: ANN001 - an Engine
    return engine.url.render_as_string(hide_password=True)
