"""``atlas2d export``: a leak-free machine-learning training set as JSON-LD + Croissant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from atlas2d.api.console import console, fail, print_table, progress
from atlas2d.api.store_access import open_store, settings_of


def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the training set into (created if missing).")],
    split: Annotated[str, typer.Option("--split", help="Fractions train/validation/test, e.g. 0.8/0.1/0.1.")] = "0.8/0.1/0.1",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split assignment; same seed, same splits.")] = 0,
    filter_text: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help="OPTIMADE filter on structures, e.g. 'elements HAS \"S\" AND _atlas2d_band_gap > 1'; "
            "every material with a matching entry is exported whole.",
        ),
    ] = None,
) -> None:
    """Export the store as a training set: one JSON-LD document per material, split by material.

    Writes train/validation/test.jsonl (JSON-LD with an @context mapping every key to the
    atlas2d ontology or the OPTIMADE property definitions), splits.csv, context.jsonld,
    PROVENANCE.md (sources and their licences) and croissant.json (MLCommons Croissant 1.0).
    All entries of one material (one duplicate cluster) land in the same split, so no
    material leaks from training into test. Streams: memory does not grow with the store.
    """
    from atlas2d.api.exports.splits import parse_fractions
    from atlas2d.api.exports.training_set import count_materials, export_training_set, filtered_materials
    from atlas2d.api.optimade.filter import FilterError

    try:
        fractions = parse_fractions(split)
    except ValueError as exc:
        fail(str(exc))
    materials = None
    if filter_text is not None:
        try:
            materials = filtered_materials(filter_text)
        except FilterError as exc:
            fail(f"bad --filter: {str(exc).splitlines()[0]}")
    if out.exists() and not out.is_dir():
        fail(f"--out {out} exists and is not a directory")
    try:
        with open_store(settings_of(ctx), readonly=True) as session, progress() as bar:
            conn = session.connection()
            task = bar.add_task("exporting materials", total=count_materials(conn, materials))
            summary = export_training_set(
                conn, out, fractions, seed, materials, filter_text, on_material=lambda: bar.advance(task)
            )
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    print_table(["split", "materials"], list(summary.materials.items()), title=f"training set in {out}")
    console.print(f"{summary.entries} entries; files: {', '.join(summary.files)}")
