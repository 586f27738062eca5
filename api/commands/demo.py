"""``atlas2d demo``: the main job end to end on the bundled real sample data."""

from __future__ import annotations

from api.commands import store


def demo() -> None:
    """Create the store and load the bundled samples, then show what is in it."""
    store.init()
    store.status()
