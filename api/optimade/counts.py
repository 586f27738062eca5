"""Counts of matching entries, kept per filter until the store changes.

Every page of an OPTIMADE listing carries ``meta.data_returned`` (entries matching the
filter) and ``meta.data_available`` (all entries). Counting is the costly half of a
request on a large store: a page of 20 stops at its 20th match, a count visits every match
(73,629 rows for ``nelements = 2`` at 100,000 structures). Clients page through the same
filter and dashboards repeat theirs, so counts are kept per filter text under the store's
version (table ``store_version``, raised by a trigger in every transaction that writes
the tables behind the structures; migration 0008).

A count is stored with the version read *in the same statement* (one snapshot), so it is
exactly the count of that version; a lookup reads the current version first and takes
only a count stored under it. A write that has not committed yet is not in the version
readers see, nor in their counts. Each server process keeps its own counts: the first
request for a filter after a write (or after a start) counts, the next ones do not.
"""

from __future__ import annotations

from sqlalchemy import ScalarSelect, Select, select

from atlas2d.api.optimade.bounded import BoundedCache
from atlas2d.schema.models import StoreVersion

COUNT_CACHE_SIZE = 4096
"""Filters whose counts a collection keeps (per process); the least recently used goes first."""

VERSION: ScalarSelect[int] = select(StoreVersion.version).scalar_subquery()
"""The store's version, to select beside the counts it labels."""

CURRENT_VERSION: Select[tuple[int]] = select(VERSION)
"""The store's committed version as the statement running it sees it, built once (the compiled-statement cache keys on it)."""


class CountCache:
    """Counts by filter text, each valid for one store version; thread-safe."""

    def __init__(self, size: int = COUNT_CACHE_SIZE) -> None:
        self._counts: BoundedCache[tuple[int, int]] = BoundedCache(size)

    def get(self, key: str, version: int) -> int | None:
        """The count of ``key`` at ``version``, if one was stored at that version."""
        found = self._counts.get(key)
        if found is None or found[0] != version:
            return None
        return found[1]

    def put(self, key: str, version: int, count: int) -> None:
        """Keep ``count`` for ``key``, valid while the store stays at ``version``.

        An older version never replaces a newer one: two requests may race, one of them
        having counted before a write committed.
        """
        self._counts.put(key, (version, count), keep=lambda kept: kept[0] > version)
