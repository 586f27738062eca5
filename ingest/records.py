"""The shape every source adapter hands to the store.

Adapters read a source's own format and yield ``Record`` (a good record, harmonized) or
``Rejected`` (a record that cannot be ingested, with the reason). Structures travel
as a harmonized ``Layer`` (arrays) that turns into a pymatgen ``Structure`` on demand.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure


class HarmonizationError(ValueError):
    """A record breaks a convention that cannot be repaired; the message is the reason.

    Adapters turn it into a ``Rejected`` (``atlas2d.ingest.sources.base.attempt``), so the
    message is what the quarantine shows.
    """


@dataclass(frozen=True)
class SourceInfo:
    """What the ``source`` table records about a database or data set."""

    name: str
    title: str
    version: str | None = None
    license: str | None = None
    url: str | None = None
    citation: str | None = None


@dataclass(frozen=True)
class Value:
    """One harmonized property value (names, units and methods: ``atlas2d.ingest.vocabulary``)."""

    name: str
    value: float | None
    unit: str | None
    method: str
    source_field: str | None = None
    value_text: str | None = None
    conditions: dict[str, Any] | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Layer:
    """A monolayer in the atlas2d 2D convention, as plain arrays, with its geometry.

    Arrays rather than a pymatgen ``Structure`` because ingest handles thousands of records
    a second and building a ``Structure`` costs more than all the harmonization; the
    ``structure`` property builds one (once) for code that wants pymatgen.
    """

    lattice: np.ndarray
    """3x3 lattice vectors in Å as rows: a along x, b in the xy plane, c = (0, 0, L)."""
    positions: np.ndarray
    """Cartesian site positions in Å, shape (n, 3), layer centred at z = L/2."""
    species: tuple[str, ...]
    """Chemical symbol of each site."""
    thickness: float
    vacuum: float
    area: float

    @cached_property
    def structure(self) -> Structure:
        """The layer as a pymatgen ``Structure``, periodic in-plane only."""
        return Structure(
            Lattice(self.lattice, pbc=(True, True, False)), self.species, self.positions, coords_are_cartesian=True
        )

    def counts(self) -> dict[str, float]:
        """Element counts of the cell."""
        return dict(Counter(self.species))


@dataclass
class Record:
    """One good source record, harmonized, with its raw form kept verbatim."""

    source_key: str
    chemical_formula_reduced: str
    raw: dict[str, Any]
    layer: Layer | None = None
    values: list[Value] = field(default_factory=list)
    locator: str = ""
    prototype: str | None = None
    space_group: int | None = None
    """Space group number the source gives; with formula and prototype it links a structureless record."""
    site_names: tuple[str, ...] | None = None
    """The source's own species name at each site of ``layer`` (OPTIMADE ``Ac1``, ``Ac2``) where they
    are not the element symbols: served as ``species_at_sites``, never compared (dedup reads elements)."""
    species: list[dict[str, Any]] | None = None
    """The source's OPTIMADE species objects for the names at its sites, validated: served as ``species``."""

    @property
    def structure(self) -> Structure | None:
        """The harmonized structure as a pymatgen ``Structure`` (``None`` for a value-only record)."""
        return None if self.layer is None else self.layer.structure


@dataclass
class Rejected:
    """A record that failed parsing or validation; it goes to quarantine, never lost."""

    locator: str
    reason: str
    payload: str
