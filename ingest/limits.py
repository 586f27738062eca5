"""The limits a record must keep before it reaches the database, each with the reason for its value.

A hostile or broken file can hold anything JSON, CSV or an ASE database can carry: ids of
10,000 characters, numbers beyond 64 bits, nesting 5,000 levels deep, lone UTF-16
surrogates, NUL characters, coordinates of 1e308 Å, the "element" D. Caught here, each is a
quarantine row with a reason that names the limit; caught by PostgreSQL, it used to fail
the whole batch with a driver message. ``docs/ingest.md`` lists the same values.

``check_record`` runs on every record (``atlas2d.ingest.sources.base.Adapter.checked`` calls it, so no
reader can skip it); ``check_cell`` runs inside ``atlas2d.ingest.geometry.layer_from_arrays`` on the
cell as the source gave it, before anything is wrapped into the cell.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import orjson
from pymatgen.core import Element

from atlas2d.ingest.records import HarmonizationError

if TYPE_CHECKING:
    from atlas2d.ingest.records import Layer, Record, Value

MAX_SOURCE_KEY = 512
"""Characters of a source id, and of a reduced formula. Both are in B-tree indexes, which
take rows up to 2,704 bytes; 512 characters of up to 4 UTF-8 bytes each stay below it (real
ids are under 100 characters, real formulas under 40)."""

MAX_SPECIES_NAME = 512
"""Characters of a species name a source gives at a site (OPTIMADE ``Ac1``): served
``species_at_sites`` are in a GIN index, whose entries take up to about 2,700 bytes (real
names are under 10 characters)."""

MAX_COLUMN = {"name": 64, "method": 64, "unit": 32}
"""Characters of a property value's ``varchar`` columns (``schema/models.py``): a longer
experimental technique (``expt:<technique>``) is refused here, not by a failed COPY."""

MAX_TEXT = 4096
"""Characters of any other text the entry stores in a column of its own (formula, prototype,
a text value, a reference)."""

MAX_DEPTH = 254
"""Levels of lists and objects in a raw record: the most orjson, which writes and hashes raw
records, encodes. Real records nest 6 deep; a record nested 300 deep used to fail its batch."""

MAX_INTEGER = 2**63 - 1
"""Largest integer magnitude in a raw record or a value's conditions (64-bit, as JSONB
indexes and every client read it)."""

MAX_MAGNITUDE = 1e15
"""Largest magnitude of a stored property value in its vocabulary unit: total energies of
large cells reach 1e5 eV, speeds of sound 1e4 m/s; 1e15 is no measurement atlas2d stores."""

VALUE_RANGES: dict[str, tuple[float, float]] = {
    "band_gap": (0.0, 30.0),
    "direct_band_gap": (0.0, 30.0),
    "optical_gap": (0.0, 30.0),
    "exciton_binding_energy": (-30.0, 30.0),
    "curie_temperature": (0.0, 10_000.0),
}
"""Physical range of a property (vocabulary unit, ends included): no material has a gap above
30 eV (LiF, the widest, has 14 eV) and no magnet orders above 10,000 K."""

MAX_SITES = 100_000
"""Sites in one cell; the overlap check is linear in sites, so a 10,000-atom cell is fine."""

MAX_LATTICE_LENGTH = 1000.0
"""Å, longest lattice vector, the vacuum one included (slab models use 15-40 Å of vacuum)."""

COORDINATE_TOLERANCE = 1.0
"""Fractions of a lattice vector a site may lie outside the cell ([-1, 2] on each axis).
Sources write sites slightly outside (MC2D centres the layer on z = 0); a site further out
is a broken record, and wrapping it (1e308 Å wrapped is some point of the cell) would
store a different structure."""

MIN_LAYER_VACUUM = 8.0
"""Å of vacuum along one lattice vector for a 3D-periodic cell to be read as a monolayer
slab (``atlas2d.ingest.sources.optimade_json``): bulk van der Waals gaps are 2.5-4 Å wide, slab models
of monolayers leave 10 Å or more."""

REAL_ELEMENTS = frozenset(Element.from_Z(z).symbol for z in range(1, 119))
"""Chemical symbols of elements 1-118; pymatgen also accepts D and T (isotopes) and dummy
species, which are not elements a material is made of."""


def check_record(record: Record) -> None:
    """Raise ``HarmonizationError`` naming the first limit ``record`` breaks."""
    check_text("source id", record.source_key, MAX_SOURCE_KEY)
    check_text("chemical_formula_reduced", record.chemical_formula_reduced, MAX_SOURCE_KEY)
    if record.prototype is not None:
        check_text("prototype", record.prototype, MAX_TEXT)
    if record.space_group is not None and not 1 <= record.space_group <= 230:
        raise HarmonizationError(f"space group {record.space_group} is not a number from 1 to 230")
    check_json("raw record", record.raw)
    for value in record.values:
        check_value(value)
    if record.layer is not None:
        check_layer(record.layer)
    for name in record.site_names or ():
        check_text("species name", name, MAX_SPECIES_NAME)


def check_text(field: str, text: object, limit: int) -> None:
    """A string PostgreSQL can store in a column of ``limit`` characters: no NUL, no lone surrogate."""
    if not isinstance(text, str):
        raise HarmonizationError(f"{field} is not text: {type(text).__name__}")
    if len(text) > limit:
        raise HarmonizationError(f"{field} is {len(text)} characters long, the limit is {limit}")
    if "\x00" in text:
        raise HarmonizationError(f"{field} holds a NUL character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise HarmonizationError(f"{field} holds a lone surrogate {text[exc.start]!r}, which is not Unicode text") from exc


def check_json(field: str, payload: object) -> None:
    """A JSON document JSONB and the raw-record hash take: nesting, integers, strings, keys within limits.

    orjson, which writes raw records (and hashes them), checks all of it in C while encoding:
    a walk over the objects in Python cost ten times as much on a structure record.
    """
    try:
        encoded = orjson.dumps(payload)
    except TypeError as exc:
        if "Recursion" in str(exc):
            raise HarmonizationError(f"{field} is nested deeper than {MAX_DEPTH} levels") from exc
        raise HarmonizationError(f"{field} cannot be stored as JSON: {exc} (integers are limited to 64 bits, text to Unicode)") from exc
    if b"\\u0000" in encoded:
        raise HarmonizationError(f"{field} holds a NUL character, which JSONB cannot store")


def check_value(value: Value) -> None:
    """Column widths, a finite number within ``MAX_MAGNITUDE`` and the property's physical range."""
    for column, limit in MAX_COLUMN.items():
        text = getattr(value, column)
        if text is not None:
            check_text(f"{value.name} {column}", text, limit)
    for column in ("source_field", "value_text", "reference"):
        text = getattr(value, column)
        if text is not None:
            check_text(f"{value.name} {column}", text, MAX_TEXT)
    if value.conditions is not None:
        check_json(f"{value.name} conditions", value.conditions)
    amount = value.value
    if amount is None:
        return
    if not math.isfinite(amount) or abs(amount) > MAX_MAGNITUDE:
        raise HarmonizationError(f"{value.source_field or value.name} = {amount!r} is out of range (|value| <= {MAX_MAGNITUDE:g})")
    low, high = VALUE_RANGES.get(value.name, (-math.inf, math.inf))
    if not low <= amount <= high:
        field = value.source_field or value.name
        raise HarmonizationError(f"{field} = {amount!r} {value.unit} is outside the physical range {low:g}-{high:g}")


def check_layer(layer: Layer) -> None:
    """The stored layer's size and geometry are finite and within the cell limits."""
    if len(layer.species) > MAX_SITES:
        raise HarmonizationError(f"{len(layer.species)} sites, the limit is {MAX_SITES}")
    for name in ("thickness", "vacuum", "area"):
        if not math.isfinite(getattr(layer, name)):
            raise HarmonizationError(f"layer {name} is not finite")


def check_cell(matrix: np.ndarray, frac: np.ndarray) -> None:
    """A cell as given: sites within ``MAX_SITES``, lattice vectors within ``MAX_LATTICE_LENGTH``,
    every fractional coordinate finite and within ``COORDINATE_TOLERANCE`` of the cell."""
    if len(frac) > MAX_SITES:
        raise HarmonizationError(f"{len(frac)} sites, the limit is {MAX_SITES}")
    lengths = np.linalg.norm(matrix, axis=1)
    if lengths.max() > MAX_LATTICE_LENGTH:
        raise HarmonizationError(f"a lattice vector is {lengths.max():.4g} Å long, the limit is {MAX_LATTICE_LENGTH:g} Å")
    if not np.all(np.isfinite(frac)):
        raise HarmonizationError("atomic positions are not finite in the cell's coordinates")
    low, high = float(frac.min()), float(frac.max())
    if low < -COORDINATE_TOLERANCE or high > 1 + COORDINATE_TOLERANCE:
        far = low if low < -COORDINATE_TOLERANCE else high
        allowed = f"{-COORDINATE_TOLERANCE:g} to {1 + COORDINATE_TOLERANCE:g}"
        raise HarmonizationError(f"a site lies outside the cell (fractional coordinate {far:.4g}; allowed {allowed})")


def check_symbol(symbol: object) -> None:
    """Raise unless ``symbol`` is the symbol of element 1-118 (no isotopes, no dummy species)."""
    if not isinstance(symbol, str) or symbol not in REAL_ELEMENTS:
        raise HarmonizationError(f"unknown element {symbol!r}")
