"""The one place where atlas2d's conventions are written down.

Units: energies in eV (per atom where the name says so), lengths in Å, magnetic moments in
μB per cell, temperatures in K. Structures: the non-periodic direction is z, the two
in-plane lattice vectors lie in the xy plane (a along x, b in the upper half plane), the
third lattice vector is (0, 0, L), the layer is contiguous and centred at z = L/2, and the
vacuum is L minus the layer thickness. Formulas follow OPTIMADE (elements alphabetical,
counts reduced by their GCD, 1 omitted; anonymous: A, B, C… by decreasing count).

Values: a missing field is unknown (no value row), never zero; a present field that is not
a finite number is a broken record. Every value keeps its method (``PBE``, ``HSE06``,
``G0W0``, ``expt:<technique>``) so values of one property from different methods sit side
by side. An optical gap (exciton energy) is ``optical_gap``, never ``band_gap``.
"""

from __future__ import annotations

import math
import string
from functools import cache, reduce

import numpy as np
from pymatgen.core import Element, Structure
from scipy.spatial.distance import pdist

from atlas2d.ingest.records import Layer, Value

PROPERTY_UNITS: dict[str, str | None] = {
    "band_gap": "eV",
    "band_gap_type": None,
    "optical_gap": "eV",
    "formation_energy": "eV/atom",
    "energy_above_hull": "eV/atom",
    "decomposition_energy": "eV/atom",
    "exfoliation_energy": "eV/atom",
    "binding_energy": "meV/Å^2",
    "total_energy": "eV",
    "energy_per_atom": "eV/atom",
    "magnetic_moment": "μB",
    "magnetic_state": None,
    "curie_temperature": "K",
    "dynamically_stable": None,
    "direct_band_gap": "eV",
    "conduction_band_minimum": "eV",
    "valence_band_maximum": "eV",
    "work_function": "eV",
    "fermi_level": "eV",
    "exciton_binding_energy": "eV",
    "effective_mass_electron_1": "m_e",
    "effective_mass_electron_2": "m_e",
    "effective_mass_hole_1": "m_e",
    "effective_mass_hole_2": "m_e",
    **{f"stiffness_{i}{j}": "N/m" for i in "123" for j in "123"},
    "speed_of_sound_x": "m/s",
    "speed_of_sound_y": "m/s",
    "thermodynamic_stability_level": None,
}
"""The property vocabulary: harmonized name -> unit every value of it is stored in."""

METHODS = ("PBE", "PBE+SOC", "PBE+U", "HSE06", "G0W0", "vdW-DF2", "rVV10", "optB88-vdW", "expt")
"""Methods/functionals; experimental values use ``expt`` or ``expt:<technique>``."""

NON_NEGATIVE = frozenset({"band_gap", "direct_band_gap", "optical_gap", "curie_temperature", "binding_energy"})
"""Properties that cannot be negative; a negative value is a broken record.

Not ``energy_above_hull``: C2DB reports a few monolayers slightly below its reference hull
(-0.006 eV/atom), a real result of its reference set, not a broken record.
"""

MIN_INTERATOMIC_DISTANCE = 0.5
"""Å. Closer atoms are overlapping: the record is broken, not a material."""


UNIT_FACTORS: dict[str, tuple[str, float]] = {
    "eV": ("eV", 1.0),
    "meV": ("eV", 1e-3),
    "Ry": ("eV", 13.605693122994),
    "Ha": ("eV", 27.211386245988),
    "eV/atom": ("eV/atom", 1.0),
    "meV/atom": ("eV/atom", 1e-3),
    "K": ("K", 1.0),
    "μB": ("μB", 1.0),
    "muB": ("μB", 1.0),
    "meV/Å^2": ("meV/Å^2", 1.0),
    "meV/A^2": ("meV/Å^2", 1.0),
    "J/m^2": ("meV/Å^2", 1e3 / 16.021766339),
    "eV/Å^2": ("meV/Å^2", 1e3),
    "m_e": ("m_e", 1.0),
    "N/m": ("N/m", 1.0),
    "m/s": ("m/s", 1.0),
}
"""Unit spellings sources use -> (atlas2d unit, factor that converts into it)."""


class HarmonizationError(ValueError):
    """A record breaks a convention that cannot be repaired; the message is the reason."""


def reduced_formula(counts: dict[str, float]) -> str:
    """OPTIMADE ``chemical_formula_reduced``: alphabetical, GCD-reduced, 1 omitted."""
    ints = _integer_counts(counts)
    divisor = reduce(math.gcd, ints.values())
    return "".join(f"{el}{n // divisor if n // divisor != 1 else ''}" for el, n in sorted(ints.items()))


def anonymous_formula(counts: dict[str, float]) -> str:
    """OPTIMADE ``chemical_formula_anonymous``: A, B, C… by decreasing reduced count."""
    ints = _integer_counts(counts)
    divisor = reduce(math.gcd, ints.values())
    reduced = sorted((n // divisor for n in ints.values()), reverse=True)
    return "".join(f"{_anonymous_symbol(i)}{n if n != 1 else ''}" for i, n in enumerate(reduced))


def parse_formula(formula: str) -> dict[str, float]:
    """Element counts of a formula string; raises for unknown elements."""
    from pymatgen.core import Composition

    try:
        composition = Composition(formula)
    except Exception as exc:
        raise HarmonizationError(f"unparseable formula {formula!r}: {exc}") from exc
    counts = {str(el): amount for el, amount in composition.get_el_amt_dict().items()}
    for symbol in counts:
        check_element(symbol)
    if not counts:
        raise HarmonizationError(f"empty formula {formula!r}")
    return counts


@cache
def check_element(symbol: str) -> None:
    """Raise unless ``symbol`` is a real chemical element (no dummy species)."""
    if not Element.is_valid_symbol(symbol):
        raise HarmonizationError(f"unknown element {symbol!r}")


def number(raw: object, field: str) -> float | None:
    """A source field as a float: ``None`` when absent or empty (unknown), else finite or an error.

    Booleans are refused too: ``true`` in a gap field is a broken record, not 1 eV.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise HarmonizationError(f"{field} is not a number: {raw!r}")
    try:
        result = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise HarmonizationError(f"{field} is not a number: {raw!r}") from exc
    if not math.isfinite(result):
        raise HarmonizationError(f"{field} is not finite: {raw!r}")
    return result


def value(
    name: str,
    raw: object,
    method: str,
    source_field: str,
    unit: str | None = None,
    **extra: object,
) -> Value | None:
    """A harmonized ``Value`` of vocabulary property ``name`` read from ``source_field``.

    ``unit`` is the source's unit (default: the vocabulary's); the number is converted into
    the vocabulary's unit. Returns ``None`` when the field is absent, so a missing property
    never becomes a row.
    """
    if name not in PROPERTY_UNITS:
        raise HarmonizationError(f"unknown property {name!r} (vocabulary: {', '.join(PROPERTY_UNITS)})")
    target = PROPERTY_UNITS[name]
    if target is None:
        if raw is None or raw == "":
            return None
        return Value(name=name, value=None, unit=None, method=method, source_field=source_field, value_text=str(raw), **extra)  # type: ignore[arg-type]
    amount = number(raw, source_field)
    if amount is None:
        return None
    given = unit or target
    if given not in UNIT_FACTORS or UNIT_FACTORS[given][0] != target:
        raise HarmonizationError(f"{source_field}: unit {given!r} cannot be converted to {target!r} for {name}")
    amount *= UNIT_FACTORS[given][1]
    if name in NON_NEGATIVE and amount < 0:
        raise HarmonizationError(f"{source_field} is negative: {amount}")
    return Value(name=name, value=amount, unit=target, method=method, source_field=source_field, **extra)  # type: ignore[arg-type]


def band_gap_type(gap: float | None, direct_gap: float | None, method: str, source_field: str) -> Value | None:
    """``direct`` or ``indirect`` from the fundamental and the direct gap (metals: none)."""
    if gap is None or direct_gap is None or gap <= 0:
        return None
    kind = "direct" if abs(direct_gap - gap) < 1e-3 else "indirect"
    return Value(name="band_gap_type", value=None, unit=None, method=method, source_field=source_field, value_text=kind)


def experimental_method(technique: str) -> str:
    """``expt:<technique>`` (lower case, spaces kept) for a measured value."""
    technique = technique.strip().lower()
    return f"expt:{technique}" if technique else "expt"


def to_2d_convention(structure: Structure, vacuum_axis: int = 2) -> Layer:
    """A pymatgen ``structure`` validated and turned into the 2D convention."""
    try:
        species = [site.specie.symbol for site in structure]
    except AttributeError as exc:
        raise HarmonizationError("disordered site: one element per site is required") from exc
    return layer_from_arrays(structure.lattice.matrix, structure.frac_coords, species, vacuum_axis=vacuum_axis)


def layer_from_arrays(
    lattice: object,
    coords: object,
    species: list[str],
    cartesian: bool = False,
    vacuum_axis: int = 2,
) -> Layer:
    """Validate a cell and rotate it into the atlas2d 2D convention, measuring its layer.

    ``vacuum_axis`` is the lattice vector that spans the vacuum (the third in every source
    atlas2d reads). The in-plane lattice is kept; the out-of-plane vector is replaced by its
    component along the layer normal, which is the repeat distance of the slab model. The
    layer is unwrapped along the vacuum vector in fractional units, so an atom moved across
    the cut moves by that whole (possibly oblique) vector and keeps its in-plane neighbours.
    """
    matrix, points = _finite_arrays(lattice, coords, len(species))
    for symbol in set(species):
        if not isinstance(symbol, str):
            raise HarmonizationError(f"unknown element {symbol!r}")
        check_element(symbol)
    if abs(np.linalg.det(matrix)) < 1e-6:
        raise HarmonizationError("lattice is singular (zero volume)")
    frac = np.linalg.solve(matrix.T, points.T).T if cartesian else points.copy()
    order = [(vacuum_axis + 1) % 3, (vacuum_axis + 2) % 3, vacuum_axis]
    matrix, frac = matrix[order], frac[:, order]
    frac[:, 2] = _unwrap_layer(frac[:, 2])
    cart = frac @ matrix
    a, b, c = matrix
    normal = _cross(a, b)
    area = float(np.linalg.norm(normal))
    if area < 1e-6:
        raise HarmonizationError("in-plane lattice vectors are parallel")
    normal /= area
    if np.dot(normal, c) < 0:
        normal, a, b = -normal, b, a
    length = float(np.dot(normal, c))
    x = a / np.linalg.norm(a)
    rotation = np.array([x, _cross(normal, x), normal])
    a2, b2 = rotation @ a, rotation @ b
    new_lattice = np.array([[a2[0], 0.0, 0.0], [b2[0], b2[1], 0.0], [0.0, 0.0, length]])
    cart = cart @ rotation.T
    z = cart[:, 2]
    thickness = float(z.max() - z.min())
    cart[:, 2] = z - (z.max() + z.min()) / 2 + length / 2
    in_plane = np.linalg.solve(new_lattice[:2, :2].T, cart[:, :2].T).T
    cart[:, :2] = (in_plane - np.floor(in_plane)) @ new_lattice[:2, :2]
    _check_no_overlap(new_lattice[:2, :2], cart)
    return Layer(
        lattice=new_lattice, positions=cart, species=tuple(species), thickness=thickness, vacuum=length - thickness, area=area
    )


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (``np.cross`` costs more in overhead than in arithmetic here)."""
    return np.array([u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]])


def validate_structure(structure: Structure) -> None:
    """Raise ``HarmonizationError`` for structures that cannot be a real monolayer."""
    to_2d_convention(structure)


def _finite_arrays(lattice: object, coords: object, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Lattice (3x3) and coordinates (n x 3) as float arrays, or the reason they are not."""
    if n == 0:
        raise HarmonizationError("structure has no atoms")
    try:
        matrix = np.asarray(lattice, dtype=float)
        points = np.asarray(coords, dtype=float)
    except (TypeError, ValueError) as exc:
        raise HarmonizationError(f"lattice or positions are not numeric: {exc}") from exc
    if matrix.shape != (3, 3):
        raise HarmonizationError(f"lattice has shape {matrix.shape}, expected 3x3")
    if points.shape != (n, 3):
        raise HarmonizationError(f"positions have shape {points.shape} for {n} atoms")
    if not np.all(np.isfinite(matrix)):
        raise HarmonizationError("lattice has NaN or infinite components")
    if not np.all(np.isfinite(points)):
        raise HarmonizationError("atomic positions have NaN or infinite components")
    return matrix, points


def _check_no_overlap(plane: np.ndarray, cart: np.ndarray) -> None:
    """Refuse two sites (or a site and its own in-plane image) closer than ``MIN_INTERATOMIC_DISTANCE``.

    The cell and its eight in-plane neighbours are tiled and every pair distance taken
    (scipy's ``pdist``, in C): with positions wrapped into the cell this finds the shortest
    distance in any cell that is not extremely skewed.
    """
    tiled = np.repeat(cart[None, :, :], len(_NEIGHBOUR_CELLS), axis=0)
    tiled[:, :, :2] += (_NEIGHBOUR_CELLS @ plane)[:, None, :]
    closest = float(np.sqrt(pdist(tiled.reshape(-1, 3), "sqeuclidean").min()))
    if closest < MIN_INTERATOMIC_DISTANCE:
        raise HarmonizationError(f"overlapping atoms: two sites {closest:.3f} Å apart")


_NEIGHBOUR_CELLS = np.array([[i, j] for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)


def _unwrap_layer(frac_z: np.ndarray) -> np.ndarray:
    """Fractional heights made contiguous: cut the periodic axis in its widest empty gap."""
    wrapped = np.mod(frac_z, 1.0)
    order = np.sort(wrapped)
    gaps = np.diff(np.concatenate([order, [order[0] + 1.0]]))
    cut = order[(int(np.argmax(gaps)) + 1) % len(order)]
    return np.where(wrapped >= cut - 1e-12, wrapped, wrapped + 1.0)


def _integer_counts(counts: dict[str, float]) -> dict[str, int]:
    ints = {el: int(round(n)) for el, n in counts.items()}
    if any(n <= 0 or abs(ints[el] - n) > 1e-6 for el, n in counts.items()):
        raise HarmonizationError(f"non-integer or non-positive composition {counts}")
    return ints


def _anonymous_symbol(index: int) -> str:
    letters = string.ascii_uppercase
    if index < len(letters):
        return letters[index]
    return letters[index // len(letters) - 1] + letters[index % len(letters)].lower()
