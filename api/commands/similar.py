"""``atlas2d similar``: the materials nearest to an entry, by one of several similarity measures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from atlas2d.api.console import fail, print_table
from atlas2d.schema.database import DatabaseError, make_engine


def _by_structure(session: Session, ref: int, k: int, by_material: bool) -> list:
    from atlas2d.embeddings.structure.dedup import similar_by_structure

    return similar_by_structure(session, ref, k, by_material)


def _by_bands(session: Session, ref: int, k: int, by_material: bool) -> list:
    """Nearest band-structure fingerprints, as ``Neighbour`` rows (with each entry's material)."""
    from sqlalchemy import select

    from atlas2d.embeddings.bands.search import similar_by_bands
    from atlas2d.embeddings.structure.dedup import Neighbour
    from atlas2d.schema.models import BandStructure, Entry

    entry_id = ref
    if by_material:
        entry_id = session.execute(
            select(Entry.id).join(BandStructure, BandStructure.entry_id == Entry.id).where(Entry.material_id == ref).limit(1)
        ).scalar_one_or_none()
        if entry_id is None:
            raise LookupError(f"material {ref} has no band structure")
    found = similar_by_bands(session, entry_id, k)
    rows = session.execute(select(Entry.id, Entry.material_id).where(Entry.id.in_([n.entry_id for n in found])))
    materials = {entry: material for entry, material in rows}
    return [Neighbour(materials.get(n.entry_id), n.entry_id, n.source, n.source_key, n.formula, n.distance) for n in found]


SEARCHES: dict[str, Callable[[Session, int, int, bool], list]] = {"structure": _by_structure, "bands": _by_bands}
"""``--by`` name -> search(session, ref, k, by_material) returning ``atlas2d.embeddings.structure.dedup.Neighbour`` rows."""


def similar(
    ref: Annotated[int, typer.Argument(metavar="ID", help="Entry id (or material id with --material).")],
    k: Annotated[int, typer.Option("--k", help="How many materials to list.")] = 10,
    by: Annotated[str, typer.Option("--by", help=f"Similarity measure: {', '.join(SEARCHES)}.")] = "structure",
    material: Annotated[bool, typer.Option("--material", help="ID is a material id, not an entry id.")] = False,
) -> None:
    """List the materials nearest to an entry.

    --by structure: Euclidean distance between AMD vectors (Å), the isometry invariant that
    'atlas2d dedup' stores; the same search in SQL is
    SELECT entry_id FROM structure ORDER BY amd <-> (SELECT amd FROM structure WHERE entry_id = ID) LIMIT 10.

    --by bands: Euclidean distance between band-structure fingerprints ('atlas2d
    fingerprint'); 'atlas2d similar-bands' shows the same search with a --plot of the bands.
    """
    if by not in SEARCHES:
        fail(f"unknown --by {by!r}: use {', '.join(SEARCHES)}")
    if k < 1:
        fail(f"--k must be at least 1, not {k}")
    try:
        with Session(make_engine()) as session:
            found = SEARCHES[by](session, ref, k, material)
    except LookupError as exc:
        fail(str(exc.args[0]))
    except DatabaseError as exc:
        fail(str(exc))
    except DBAPIError as exc:
        fail(f"database error: {str(exc.orig or exc).strip().splitlines()[0]} (did you run 'atlas2d init'?)")
    print_table(
        ["material", "entry", "source", "source key", "formula", "distance"],
        [(n.material_id, n.entry_id, n.source, n.source_key, n.formula, n.distance) for n in found],
        title=f"Nearest materials to {'material' if material else 'entry'} {ref} by {by}",
    )
