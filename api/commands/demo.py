"""``atlas2d demo``: the main job end to end on the bundled real sample data."""

from __future__ import annotations

import typer

from atlas2d.api.commands import dedup, fingerprint, graph, store
from atlas2d.api.commands.ingest import print_summaries, run_ingest
from atlas2d.api.store_access import open_store, settings_of
from atlas2d.ingest.samples import bundled


def demo(ctx: typer.Context) -> None:
    """The main job on the bundled samples, end to end; safe to repeat.

    Creates the store, ingests every bundled sample (C2DB, MC2D, real 2DMatPedia
    records, experimental values, and a spec of generated tight-binding
    band structures, since no bundled source has bands), fingerprints the band
    structures, merges duplicate entries into materials and lists those that span
    sources, builds the knowledge graph and checks it against the SHACL shapes, then
    shows what is in the store.
    """
    settings = settings_of(ctx)
    store.init(ctx)
    with open_store(settings) as session:
        summaries = [run_ingest(session.get_bind(), source, files) for source, files in bundled()]
    print_summaries(summaries)
    fingerprint.fill_missing(settings)
    dedup.deduplicate_and_report(settings)
    graph.build(ctx, out=None, fmt="turtle", validate=True)
    store.status(ctx)
