"""``atlas2d federate``: one OPTIMADE filter on several providers, merged and deduplicated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from atlas2d.api.console import console, fail, print_table


def federate(
    filter_text: Annotated[str, typer.Argument(metavar="FILTER", help='OPTIMADE filter, e.g. \'elements HAS ALL "Mo","S"\'.')],
    providers: Annotated[
        list[str],
        typer.Option("--providers", "-p", help="Base URL of an OPTIMADE provider (without /v1); repeat for several."),
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write the merged hits as JSON to this file.")] = None,
    max_results: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many hits per provider.")] = 1000,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for each HTTP request.")] = 30.0,
) -> None:
    """Query several OPTIMADE providers at once and merge their hits.

    Hits count as the same material when reduced formula, periodicity and cell size per site
    (area for layers, volume for bulk; 3% tolerance) agree. Each row lists the providers and
    ids that hold it.

    Providers that fail are reported; the others still answer. Example:
    atlas2d federate 'elements HAS ALL "Mo","S"' -p http://127.0.0.1:5000 -p http://127.0.0.1:5001 --output hits.json
    """
    from atlas2d.api.optimade.federation import merge, search
    from atlas2d.api.optimade.filter import FilterError, parse

    try:
        parse(filter_text)
    except FilterError as exc:
        fail(f"invalid filter: {exc}")
    bad = [p for p in providers if not p.startswith(("http://", "https://"))]
    if bad:
        fail(f"provider URLs must start with http:// or https://: {', '.join(bad)}")
    with console.status(f"querying {len(providers)} providers"):
        hits, errors = search(filter_text, providers, max_results=max_results, timeout=timeout)
    groups = merge(hits)
    print_table(
        ["formula", "periodic", "Å²|Å³ per site", "providers", "ids"],
        (
            [g.formula, "".join(map(str, g.periodic or ())), g.cell_per_site, " ".join(g.providers), " ".join(h.id for h in g.hits)]
            for g in groups
        ),
        title=f"{len(hits)} hits, {len(groups)} distinct materials",
    )
    for url, messages in errors.items():
        console.print(f"[yellow]{url}[/]: {'; '.join(messages)[:300]}", highlight=False)
    if output is not None:
        payload = {
            "filter": filter_text,
            "providers": providers,
            "errors": errors,
            "materials": [
                {
                    "chemical_formula_reduced": g.formula,
                    "dimension_types": list(g.periodic) if g.periodic else None,
                    "cell_per_site": g.cell_per_site,
                    "providers": g.providers,
                    "hits": [{"provider": h.provider, "id": h.id, "attributes": h.attributes} for h in g.hits],
                }
                for g in groups
            ],
        }
        try:
            output.write_text(json.dumps(payload, indent=1, default=str))
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror}")
        console.print(f"wrote {output}")
    if providers and len(errors) == len(providers):
        fail("no provider answered")
