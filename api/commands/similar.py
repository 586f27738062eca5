"""``atlas2d similar``: the materials nearest to an entry, by one of the registered similarity searches."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas2d.api.console import fail, print_table
from atlas2d.api.store_access import open_store, settings_of
from atlas2d.embeddings.search import SEARCHES, resolve, search_named


def similar(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(metavar="ID", help="Entry id, <source>/<source key> or a source key (a material id with --material).")
    ],
    k: Annotated[int, typer.Option("--k", help="How many materials to list.")] = 10,
    by: Annotated[str, typer.Option("--by", help=f"Similarity measure: {', '.join(SEARCHES)}.")] = "structure",
    material: Annotated[bool, typer.Option("--material", help="ID is a material id, not an entry.")] = False,
) -> None:
    """List the materials nearest to an entry.

    --by structure: Euclidean distance between AMD vectors (Å), the isometry invariant that
    'atlas2d dedup' stores; the same search in SQL is
    SELECT entry_id FROM structure ORDER BY amd <-> (SELECT amd FROM structure WHERE entry_id = ID) LIMIT 10.

    --by bands: Euclidean distance between band-structure fingerprints ('atlas2d
    fingerprint'); 'atlas2d similar-bands' shows the same search with a --plot of the bands.
    """
    try:
        search = search_named(by)
    except ValueError:
        fail(f"unknown --by {by!r}: use {', '.join(SEARCHES)}")
    if k < 1:
        fail(f"--k must be at least 1, not {k}")
    if material and not ref.isdigit():
        fail(f"--material takes a material id (a whole number), not {ref!r}")
    with open_store(settings_of(ctx)) as session:
        try:
            found = search(session, int(ref) if material else resolve(session, ref), k, by_material=material)
        except LookupError as exc:
            fail(str(exc.args[0]))
    print_table(
        ["material", "entry", "source", "source key", "formula", "distance"],
        [(n.material_id, n.entry_id, n.source, n.source_key, n.formula, n.distance) for n in found],
        title=f"Nearest materials to {'material' if material else 'entry'} {ref} by {by}",
    )
