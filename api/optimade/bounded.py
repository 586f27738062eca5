"""A small thread-safe cache that keeps its most recently used entries: one for the API's three.

The OPTIMADE collections keep translated filters, compiled statement shapes and counts
between requests, each bounded (clients send endless distinct filters) and shared by a
server's handler threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class BoundedCache(Generic[Value]):
    """At most ``size`` entries; the least recently used goes first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, Value] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, default: Value | None = None) -> Value | None:
        """The value kept for ``key`` (now the most recently used), else ``default``."""
        with self._lock:
            if key not in self._entries:
                return default
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: Hashable, value: Value, keep: Callable[[Value], bool] | None = None) -> None:
        """Keep ``value`` for ``key``, unless ``keep`` says the value already kept should stay.

        ``keep`` is asked under the lock, so a check and its replacement cannot interleave with
        another thread's.
        """
        with self._lock:
            if keep is not None and key in self._entries and keep(self._entries[key]):
                return
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
