"""``atlas2d demo``: the main job end to end on the bundled real sample data."""

from __future__ import annotations

from api.commands import store
from api.commands.ingest import print_summaries, run_ingest
from ingest.samples import bundled


def demo() -> None:
    """Create the store, ingest every bundled sample (C2DB, MC2D, constructed 2DMatPedia
    layout, experimental values), then show what is in it. Safe to repeat."""
    store.init()
    print_summaries([run_ingest(source, files) for source, files in bundled()])
    store.status()
