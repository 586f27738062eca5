"""The source adapters by name, found through the ``atlas2d.sources`` entry-point group.

atlas2d registers its own adapters in its ``pyproject.toml``; any installed package can add
one the same way (``[project.entry-points."atlas2d.sources"]``, ``name = "module:OBJECT"``),
and ``atlas2d ingest NAME`` then reads its files. The entry-point name must be the adapter's
source name, so the name a user types is the name the store records.

A registered adapter that cannot be used (its module does not import, the object is not an
``Adapter``, the names disagree, two packages claim one name) is kept aside with the reason:
asking for it gives that reason in one line, and every other source and command works.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from atlas2d.ingest.sources.base import Adapter

ENTRY_POINT_GROUP = "atlas2d.sources"


class SourceError(LookupError):
    """A source name that names no usable adapter; the message says why and what exists."""


@dataclass(frozen=True)
class Registry:
    """The usable adapters by source name, and the registered ones that are not, with why."""

    adapters: dict[str, Adapter]
    broken: dict[str, str]

    def adapter(self, name: str) -> Adapter:
        """The adapter of source ``name``; ``SourceError`` with the reason when there is none."""
        if name in self.adapters:
            return self.adapters[name]
        if name in self.broken:
            raise SourceError(f"source {name!r} cannot be used: {self.broken[name]}")
        if not self.adapters:
            raise SourceError(f"unknown source {name!r}: no source is registered (is atlas2d installed? pip install -e .)")
        raise SourceError(f"unknown source {name!r}: choose one of {', '.join(self.adapters)}")


def load_registry(points: Iterable[EntryPoint]) -> Registry:
    """Load every entry point; the ones that fail go to ``broken`` with the reason."""
    adapters: dict[str, Adapter] = {}
    broken: dict[str, str] = {}
    origins: dict[str, str] = {}
    for point in points:
        origin = f"entry point '{point.name} = {point.value}'"
        if point.dist is not None:
            origin += f" of {point.dist.name} {point.dist.version}"
        if point.name in origins:
            adapters.pop(point.name, None)
            broken[point.name] = f"registered twice ({origins[point.name]}; {origin})"
            continue
        origins[point.name] = origin
        try:
            loaded = point.load()
        except Exception as exc:  # noqa: BLE001 - a broken third-party package must not break atlas2d
            broken[point.name] = f"{origin} does not load: {type(exc).__name__}: {exc}"
            continue
        if not isinstance(loaded, Adapter):
            broken[point.name] = f"{origin} is a {type(loaded).__name__}, not an atlas2d.ingest.sources.base.Adapter"
        elif loaded.name != point.name:
            broken[point.name] = f"{origin} holds the source {loaded.name!r}; the entry-point name must be the source name"
        else:
            adapters[point.name] = loaded
    return Registry(adapters=adapters, broken=broken)


@cache
def registry() -> Registry:
    """The adapters of every installed package, loaded once per process."""
    return load_registry(entry_points(group=ENTRY_POINT_GROUP))


def adapter(name: str) -> Adapter:
    """The adapter registered as ``name`` (``SourceError`` when there is none)."""
    return registry().adapter(name)
