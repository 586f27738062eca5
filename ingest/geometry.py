"""The atlas2d 2D convention: a cell validated, rotated and measured as a monolayer.

The non-periodic direction is z; the two in-plane lattice vectors lie in the xy plane (a
along x, b in the upper half plane); the third lattice vector is (0, 0, L); the layer is
contiguous and centred at z = L/2, and the vacuum is L minus the layer thickness. Every
source's cell ends up this way, so thickness, vacuum and area mean the same for all of them
and dedup compares like with like. A cell that cannot be a monolayer (no atoms, a singular
or non-finite lattice, overlapping atoms, a dummy species) raises ``HarmonizationError``.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure
from scipy.spatial import cKDTree

from atlas2d.ingest.formulas import check_element
from atlas2d.ingest.limits import check_cell
from atlas2d.ingest.records import HarmonizationError, Layer

MIN_INTERATOMIC_DISTANCE = 0.5
"""Å. Closer atoms are overlapping: the record is broken, not a material."""

ALL_PAIRS_SITES = 64
"""Sites up to which the overlap check takes all pair distances (64 x 576, 0.9 MB)."""


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
    with np.errstate(all="ignore"):
        frac = np.linalg.solve(matrix.T, points.T).T if cartesian else points.copy()
    check_cell(matrix, frac)
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

    Each site of the cell is compared with every site of the cell and of its eight in-plane
    neighbours; with positions wrapped into the cell this finds the shortest distance in any
    cell that is not extremely skewed. Up to ``ALL_PAIRS_SITES`` sites the n x 9n distances
    are one numpy expression (a few microseconds of arithmetic: scipy's ``pdist`` spent ten
    times that in its array-API wrapper, a fifth of a 2DMatPedia record's reading time);
    above, the tiled points go into a k-d tree (a neighbour grid that adapts to the density)
    and each site asks for its nearest other point, so memory grows linearly with n where
    all pairs need 9n x n distances (7 GiB for a 10,000-atom cell).
    """
    shifts = _NEIGHBOUR_CELLS @ plane
    if len(cart) <= ALL_PAIRS_SITES:
        differences = np.repeat((cart[:, None, :] - cart[None, :, :])[None], len(shifts), axis=0)
        differences[..., :2] += shifts[:, None, None, :]
        squared = np.einsum("sijk,sijk->sij", differences, differences)
        squared[_HOME_CELL].flat[:: len(cart) + 1] = np.inf
        closest = float(np.sqrt(squared.min()))
    else:
        tiled = np.repeat(cart[None, :, :], len(shifts), axis=0)
        tiled[:, :, :2] += shifts[:, None, :]
        distances, _ = cKDTree(tiled.reshape(-1, 3)).query(cart, k=2)
        closest = float(distances[:, 1].min())
    if closest < MIN_INTERATOMIC_DISTANCE:
        raise HarmonizationError(f"overlapping atoms: two sites {closest:.3f} Å apart")


_NEIGHBOUR_CELLS = np.array([[i, j] for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)
_HOME_CELL = 4
"""Index of the shift (0, 0) in ``_NEIGHBOUR_CELLS``: a site's distance to itself there is not an overlap."""


def _unwrap_layer(frac_z: np.ndarray) -> np.ndarray:
    """Fractional heights made contiguous: cut the periodic axis in its widest empty gap."""
    wrapped = np.mod(frac_z, 1.0)
    order = np.sort(wrapped)
    gaps = np.diff(np.concatenate([order, [order[0] + 1.0]]))
    cut = order[(int(np.argmax(gaps)) + 1) % len(order)]
    return np.where(wrapped >= cut - 1e-12, wrapped, wrapped + 1.0)
