"""``atlas2d demo``: the main job end to end on the bundled real sample data."""

from __future__ import annotations

from atlas2d.api.commands import dedup, fingerprint, graph, store
from atlas2d.api.commands.ingest import print_summaries, run_ingest
from atlas2d.ingest.samples import bundled

GENERATED_PER_FAMILY = 10
"""Tight-binding band structures per lattice family the demo generates (no source has bands)."""


def demo() -> None:
    """The main job on the bundled samples, end to end; safe to repeat.

    Creates the store, ingests every bundled sample (C2DB, MC2D, real 2DMatPedia
    records, experimental values), stores generated tight-binding band
    structures and fingerprints them, merges duplicate entries into materials and lists
    those that span sources, builds the knowledge graph and checks it against the SHACL
    shapes, then shows what is in the store.
    """
    store.init()
    print_summaries([run_ingest(source, files) for source, files in bundled()])
    fingerprint.generate(per_family=GENERATED_PER_FAMILY, seed=11)
    fingerprint.fill_missing()
    dedup.deduplicate_and_report()
    graph.build(out=None, fmt="turtle", validate=True)
    store.status()
