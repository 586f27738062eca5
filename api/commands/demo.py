"""``atlas2d demo``: the main job end to end on the bundled real sample data."""

from __future__ import annotations

import typer

from atlas2d.api.commands import dedup, fingerprint, graph, store
from atlas2d.api.commands.ingest import ingest_bands, print_summaries, run_ingest
from atlas2d.api.store_access import open_store, settings_of
from atlas2d.ingest.samples import BANDS_INDEX, bundled

DEMO_BANDS_QUERY = "mc2d/MoS2-c63547f0"
"""2H MoS2, whose real band structure is bundled: the demo lists the real band structures nearest to it."""


def demo(ctx: typer.Context) -> None:
    """The main job on the bundled samples, end to end; safe to repeat.

    Creates the store, ingests every bundled sample (C2DB, MC2D, real 2DMatPedia
    records, experimental values, and a spec of generated tight-binding band structures
    that train and test the fingerprint but are never shown as materials), attaches the
    bundled real PBE band structures to their MC2D entries, fingerprints the band
    structures, merges duplicate entries into materials and lists those that span
    sources, lists the real band structures nearest to MoS2's, builds the knowledge
    graph and checks it against the SHACL shapes, then shows what is in the store.
    """
    settings = settings_of(ctx)
    store.init(ctx)
    with open_store(settings) as session:
        summaries = [run_ingest(session.get_bind(), source, files) for source, files in bundled()]
    print_summaries(summaries)
    ingest_bands(ctx, [BANDS_INDEX])
    fingerprint.fill_missing(settings)
    dedup.deduplicate_and_report(settings)
    fingerprint.similar_bands(ctx, DEMO_BANDS_QUERY, k=5, method=None, plot=None, output="table")
    graph.build(ctx, out=None, fmt="turtle", validate=True)
    store.status(ctx)
