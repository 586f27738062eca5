"""Isometry invariants of 2D-periodic atom sets: AMD and PDD, periodic only in-plane.

Widdowson & Kurlin (NeurIPS 2022, arXiv 2108.04798) describe a periodic crystal by the
sorted distances from each atom to its k nearest neighbours in the infinite periodic set:
the Pointwise Distance Distribution (PDD, one row per atom, equal rows collapsed with their
weights) and its weighted mean, the Average Minimum Distance (AMD). Both are independent
of the cell and supercell, the order of atoms, rotations, reflections and translations.

A monolayer is periodic along its two in-plane lattice vectors only, so here the periodic
set is the motif translated by ``u·a + v·b`` (u, v integers) and never along the third
vector: the vacuum thickness cannot change the result, unlike a 3D invariant of the slab
model. The AMD (species-blind, k = 100) is what pgvector indexes for nearest-neighbour
candidates; the PDD that confirms a duplicate is species-resolved (per centre atom, the
nearest distances to each element), so that two arrangements of the same elements on the
same geometry stay apart.

A batch of motifs is packed into flat arrays and searched in one call: on the CPU by the
compiled kernels of ``atlas2d.embeddings.structure.kernels`` (numba, all cores), on CUDA
(``device="auto"`` with a GPU, or ``"cuda"``) by the same search in torch, structures
grouped by size and padded. Both are exact in float64 and collapse PDD rows with the same
kernel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import orjson
from pymatgen.core import Structure

from atlas2d.embeddings.device import resolve_device, runs_on_cpu
from atlas2d.embeddings.structure.kernels import (
    GROWTH,
    RADIUS_MARGIN,
    batch_invariants,
    collapse_rows,
    local_kinds,
    neighbour_search,
    pdd_transport,
    reduce_cells,
    transport_cost,
)
from atlas2d.ingest.geometry import to_2d_convention
from atlas2d.schema.models import AMD_K

if TYPE_CHECKING:
    import torch

K_PER_ELEMENT = 16
"""Neighbours of each element listed in a PDD row (the species-resolved part used by dedup)."""

INVARIANTS_VERSION = f"2d-pdd-v4-k{AMD_K}-e{K_PER_ELEMENT}"
"""Written to ``structure.invariants_version``; a structure with another value is recomputed.

v4: distances in float64 (v3 searched in float32, up to 2e-5 Å off on poscar2d), and equal
rows merged whatever the noise, into their mean (v3 kept some apart: see ``kernels._row_before``)."""

COLLAPSE_TOLERANCE = 1e-4
"""Å. PDD rows of the same species closer than this (Chebyshev) merge into one weighted row, their mean."""

SPECIES_MISMATCH_COST = 100.0
"""Å. EMD ground cost between rows whose centre atoms differ in species (effectively forbidden)."""

BATCH_ELEMENTS = 2**24
"""Distance-matrix entries computed at once (16 M doubles = 128 MiB); bounds the memory."""


@dataclass(frozen=True)
class PDD:
    """Species-resolved Pointwise Distance Distribution: weighted rows of sorted distances (Å).

    A row belongs to one atom (its species in ``species``) and concatenates, for each
    element of ``elements`` in turn, the sorted distances to the ``k`` nearest atoms of
    that element. Plain PDDs ignore which element a neighbour is, so exchanging two
    sites of different elements whose surroundings have the same shape (Ag and Br in a
    honeycomb AgBr) would leave them unchanged; the per-element blocks see it.
    """

    counts: np.ndarray
    rows: np.ndarray
    species: tuple[str, ...]
    elements: tuple[str, ...]
    k: int

    @property
    def weights(self) -> np.ndarray:
        """Each row's share of the atoms (sums to 1)."""
        return self.counts / self.counts.sum()

    def to_bytes(self) -> bytes:
        """The form stored in ``structure.pdd`` (bytea): a JSON line with k, elements, counts
        and species, then the rows as little-endian float32 (about 1e-6 Å of rounding).

        JSONB was the first format; PostgreSQL parsing thousands of numbers per structure
        made writing the PDDs six times slower than writing these bytes.
        """
        header = {
            "k": self.k,
            "elements": list(self.elements),
            "counts": self.counts.astype(int).tolist(),
            "species": list(self.species),
        }
        return orjson.dumps(header) + b"\n" + self.rows.astype("<f4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> PDD:
        """Inverse of ``to_bytes``."""
        head, _, body = bytes(data).partition(b"\n")
        header = orjson.loads(head)
        width = int(header["k"]) * len(header["elements"])
        return cls(
            counts=np.asarray(header["counts"], dtype=int),
            rows=np.frombuffer(body, dtype="<f4").astype(float).reshape(len(header["counts"]), width),
            species=tuple(header["species"]),
            elements=tuple(header["elements"]),
            k=int(header["k"]),
        )


@dataclass(frozen=True)
class Invariants:
    """What atlas2d stores per structure: the AMD (for kNN in pgvector) and the PDD (for EMD)."""

    amd: np.ndarray
    pdd: PDD


@dataclass(frozen=True)
class Motif:
    """A layer reduced to what the invariants need: in-plane lattice, positions, species."""

    lattice: np.ndarray
    positions: np.ndarray
    species: tuple[str, ...]

    @classmethod
    def from_structure(cls, structure: Structure) -> Motif:
        """Harmonize ``structure`` (vacuum along its third vector) and Gauss-reduce its plane cell.

        A reduced cell keeps the motif compact, so fewer translations cover the neighbours.
        """
        layer = to_2d_convention(structure)
        return cls.from_arrays(layer.lattice[:2], layer.positions, layer.species)

    @classmethod
    def from_arrays(cls, lattice: np.ndarray, positions: np.ndarray, species: Sequence[str]) -> Motif:
        """From a stored ``structure`` row (already in the atlas2d 2D convention): the plane cell
        Lagrange-Gauss reduced (the two shortest independent vectors) and the atoms moved into it."""
        cart = np.ascontiguousarray(np.asarray(positions, dtype=float).reshape(-1, 3))
        plane = np.ascontiguousarray(np.asarray(lattice, dtype=float)[None, :2, :2])
        reduced, wrapped = reduce_cells(plane, cart, np.array([0, len(cart)], dtype=np.int64))
        return cls(lattice=_plane(reduced[0]), positions=wrapped, species=tuple(species))


def invariants(
    structures: Sequence[Structure], k: int = AMD_K, device: str | torch.device = "auto"
) -> list[Invariants]:
    """AMD and PDD of each structure, computed in batches."""
    return invariants_of_motifs([Motif.from_structure(s) for s in structures], k, device=device)


def amd(structures: Sequence[Structure], k: int = AMD_K, device: str | torch.device = "auto") -> np.ndarray:
    """AMD vectors (n × k, Å): the mean over atoms of the sorted distances to the k nearest atoms."""
    if not structures:
        return np.zeros((0, k))
    return np.stack([inv.amd for inv in invariants(structures, k, device)])


def pdd(structure: Structure, device: str | torch.device = "auto") -> PDD:
    """The species-resolved PDD of one structure."""
    return invariants([structure], device=device)[0].pdd


def invariants_of_motifs(
    motifs: Sequence[Motif],
    k: int = AMD_K,
    k_element: int = K_PER_ELEMENT,
    device: str | torch.device = "auto",
) -> list[Invariants]:
    """Invariants of already harmonized motifs."""
    _check_counts(k, k_element)
    if not motifs:
        return []
    return _invariants(_Batch.of(motifs), k, k_element, device)


def invariants_of_cells(
    lattices: np.ndarray,
    positions: np.ndarray,
    offsets: np.ndarray,
    species: Sequence[str],
    k: int = AMD_K,
    k_element: int = K_PER_ELEMENT,
    device: str | torch.device = "auto",
) -> list[Invariants]:
    """Invariants of stored cells packed into flat arrays: what ``atlas2d.embeddings.structure.dedup``
    reads from the store, reduced and searched without a Python step per structure.

    ``lattices`` (n × 2 or 3 × 2 or 3): in-plane vectors first, in the atlas2d 2D convention
    (Å); ``positions`` (atoms × 3, Cartesian Å) and ``species`` (one symbol per atom) of all
    cells one after the other; ``offsets`` (n + 1): where each cell's atoms start, then
    the number of atoms.
    """
    _check_counts(k, k_element)
    offsets = np.asarray(offsets, dtype=np.int64)
    positions = np.ascontiguousarray(np.asarray(positions, dtype=float).reshape(-1, 3))
    lattices = np.asarray(lattices, dtype=float)
    if len(offsets) != len(lattices) + 1 or offsets[0] != 0 or offsets[-1] != len(positions) or len(species) != len(positions):
        raise ValueError(f"{len(lattices)} cells need {len(lattices) + 1} offsets from 0 to the {len(positions)} atoms, one species each")
    if np.any(np.diff(offsets) < 1):
        raise ValueError("every cell needs at least one atom")
    if not len(lattices):
        return []
    return _invariants(_Batch.pack(lattices[:, :2, :2], positions, offsets, species), k, k_element, device)


def _invariants(batch: _Batch, k: int, k_element: int, device: str | torch.device) -> list[Invariants]:
    """Reduce, search, average and merge a packed batch; one ``Invariants`` per cell.

    On the CPU all of it is one compiled call (``kernels.batch_invariants``); elsewhere the
    cells are reduced, searched by torch, and merged by the kernel the CPU uses.
    """
    if runs_on_cpu(device):
        amds, rows, counts, row_kinds, n_rows = batch_invariants(
            batch.lattices, batch.positions, batch.offsets, batch.kinds, batch.n_kinds, k, k_element, COLLAPSE_TOLERANCE
        )
    else:
        reduced = batch.reduced()
        blind, resolved = torch_neighbour_search(reduced.motifs(), k, k_element, resolve_device(device))
        amds = np.add.reduceat(blind, batch.offsets[:-1], axis=0) / np.diff(batch.offsets)[:, None]
        rows, counts, row_kinds, n_rows = collapse_rows(resolved, batch.offsets, batch.kinds, batch.n_kinds, k_element, COLLAPSE_TOLERANCE)
    return _unpacked(batch, amds, rows, counts, row_kinds, n_rows, k_element)


def _unpacked(
    batch: _Batch, amds: np.ndarray, rows: np.ndarray, counts: np.ndarray, row_kinds: np.ndarray, n_rows: np.ndarray, k_element: int
) -> list[Invariants]:
    """One ``Invariants`` per cell from the kernels' packed output (each cell's merged rows first in its slot of atoms).

    The merged rows of all cells are gathered into one compact array and their species
    named by one lookup for the whole batch; what is left per cell is slicing.
    """
    ends = np.cumsum(n_rows)
    firsts = ends - n_rows
    owner = np.repeat(np.arange(len(n_rows)), n_rows)
    taken = batch.offsets[:-1][owner] + np.arange(int(ends[-1])) - firsts[owner]
    kept_rows, kept_counts = rows[taken], counts[taken]
    row_species = batch.symbols[batch.element_codes[owner, row_kinds[taken]]].tolist()
    result = []
    for b, elements in enumerate(batch.elements):
        first, end = firsts[b], ends[b]
        pdd = PDD(
            counts=kept_counts[first:end],
            rows=kept_rows[first:end, : k_element * len(elements)],
            species=tuple(row_species[first:end]),
            elements=elements,
            k=k_element,
        )
        result.append(Invariants(amd=amds[b], pdd=pdd))
    return result


def neighbour_distances(
    motifs: Sequence[Motif], k: int, k_element: int, device: str | torch.device = "auto"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per motif: m × k sorted distances to the k nearest other points of the 2D-periodic set,
    and m × (k_element · elements) sorted distances to the nearest points of each element.

    Exact, not an approximation by a fixed supercell: see ``kernels`` for how the search
    knows it has seen every point that close.
    """
    _check_counts(k, k_element)
    if not motifs:
        return []
    batch = _Batch.of(motifs)
    blind, resolved = _search(batch, k, k_element, device)
    return [
        (blind[start:end], resolved[start:end, : k_element * len(elements)])
        for start, end, elements in zip(batch.offsets[:-1], batch.offsets[1:], batch.elements, strict=True)
    ]


def torch_neighbour_search(
    motifs: Sequence[Motif], k: int, k_element: int, device: str | torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """``kernels.neighbour_search`` in torch, packed the same way: what runs on CUDA.

    It runs on any torch device, which is how the tests hold it to the compiled kernel on
    machines without a GPU. The points taken are the periodic images within an in-plane
    radius R of the motif's centre (``_Cloud``); a point left out is then farther than R - s
    from every motif atom (s: the motif's spread about its centre). A structure whose
    farthest needed distance exceeds R - s is redone with a larger R.
    """
    target = resolve_device(device)
    batch = _Batch.of(motifs)
    results: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(motifs)
    spreads = [_spread(m) for m in motifs]
    radii = [
        _initial_radius(m, max(k, k_element * len(set(m.species))), s) for m, s in zip(motifs, spreads, strict=True)
    ]
    pending = list(range(len(motifs)))
    while pending:
        retry: list[int] = []
        jobs = []
        for i in pending:
            cloud = _Cloud.around(motifs[i], radii[i], spreads[i])
            while len(cloud.points) <= k:
                radii[i] *= GROWTH
                cloud = _Cloud.around(motifs[i], radii[i], spreads[i])
            jobs.append((i, cloud))
        jobs.sort(key=lambda job: len(motifs[job[0]].positions) * len(job[1].points))
        for group in _batches(jobs, motifs):
            found = _batch_distances([(motifs[i], cloud) for i, cloud in group], k, k_element, target)
            for (i, _), (nearest, resolved) in zip(group, found, strict=True):
                farthest = max(nearest[:, -1].max(), resolved.max())
                if farthest <= radii[i] - spreads[i] + 1e-9:
                    results[i] = (nearest, resolved)
                else:
                    radii[i] *= GROWTH
                    retry.append(i)
        pending = retry
    blind = np.concatenate([r[0] for r in results if r is not None])
    resolved = np.full((len(blind), k_element * int(batch.n_kinds.max())), np.inf)
    for start, (_, block) in zip(batch.offsets[:-1], (r for r in results if r is not None), strict=True):
        resolved[start : start + len(block), : block.shape[1]] = block
    return blind, resolved


def _check_counts(k: int, k_element: int) -> None:
    if k < 1 or k_element < 1:
        raise ValueError(f"neighbour counts must be positive, not k={k}, k_element={k_element}")


def _search(batch: _Batch, k: int, k_element: int, device: str | torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Packed neighbour distances (atoms × k, atoms × k_element · elements): compiled on the CPU, torch elsewhere."""
    if runs_on_cpu(device):
        return neighbour_search(batch.lattices, batch.positions, batch.offsets, batch.kinds, batch.n_kinds, k, k_element)
    return torch_neighbour_search(batch.motifs(), k, k_element, resolve_device(device))


@dataclass(frozen=True)
class _Batch:
    """Cells packed into flat arrays for the kernels: atoms of all cells in one array, ``offsets`` between them.

    ``symbols``: the batch's element symbols (alphabetical, an object array);
    ``element_codes`` (cells × most elements): each cell's elements as indices into it, in
    rank order; ``elements``: the same as tuples of symbols.
    """

    lattices: np.ndarray
    positions: np.ndarray
    offsets: np.ndarray
    species: Sequence[str]
    kinds: np.ndarray
    n_kinds: np.ndarray
    symbols: np.ndarray
    element_codes: np.ndarray
    elements: list[tuple[str, ...]]

    @classmethod
    def of(cls, motifs: Sequence[Motif]) -> _Batch:
        offsets = np.zeros(len(motifs) + 1, dtype=np.int64)
        np.cumsum([len(m.species) for m in motifs], out=offsets[1:])
        return cls.pack(
            np.stack([m.lattice[:2, :2] for m in motifs]),
            np.concatenate([m.positions for m in motifs]),
            offsets,
            list(chain.from_iterable(m.species for m in motifs)),
        )

    @classmethod
    def pack(cls, lattices: np.ndarray, positions: np.ndarray, offsets: np.ndarray, species: Sequence[str]) -> _Batch:
        """From in-plane lattices (n × 2 × 2) and positions: element ranks and lists per cell.

        Species are coded through a dict and the few distinct symbols sorted, not by
        ``np.unique`` over every atom's symbol (a string sort of the whole batch).
        """
        first_seen: dict[str, int] = {}
        seen = np.fromiter((first_seen.setdefault(s, len(first_seen)) for s in species), dtype=np.int64, count=len(species))
        names = sorted(first_seen)
        alphabetical = np.empty(len(names), dtype=np.int64)
        alphabetical[[first_seen[name] for name in names]] = np.arange(len(names))
        kinds, n_kinds, element_codes = local_kinds(alphabetical[seen], offsets, len(names))
        symbols = np.array(names + [""], dtype=object)
        element_codes = element_codes[:, : max(1, int(n_kinds.max(initial=0)))]
        return cls(
            lattices=np.ascontiguousarray(lattices, dtype=float),
            positions=np.ascontiguousarray(positions, dtype=float),
            offsets=offsets,
            species=species,
            kinds=kinds,
            n_kinds=n_kinds,
            symbols=symbols,
            element_codes=element_codes,
            elements=[tuple(row[:n]) for row, n in zip(symbols[element_codes].tolist(), n_kinds.tolist(), strict=True)],
        )

    def reduced(self) -> _Batch:
        """The same cells with Gauss-reduced bases and their atoms moved into them (what the torch search takes)."""
        lattices, positions = reduce_cells(self.lattices, self.positions, self.offsets)
        return replace(self, lattices=lattices, positions=positions)

    def motifs(self) -> list[Motif]:
        """The batch as ``Motif`` objects (what the torch search takes)."""
        return [
            Motif(lattice=_plane(self.lattices[b]), positions=self.positions[start:end], species=tuple(self.species[start:end]))
            for b, (start, end) in enumerate(zip(self.offsets[:-1], self.offsets[1:], strict=True))
        ]


def _plane(reduced: np.ndarray) -> np.ndarray:
    """A reduced 2 × 2 in-plane basis as the 2 × 3 ``Motif.lattice``."""
    return np.hstack([reduced, np.zeros((2, 1))])


@dataclass(frozen=True)
class _Cloud:
    """The periodic images of a motif's atoms within an in-plane radius of the motif's centre.

    Taking images by their distance from the centre, rather than every image of every atom
    under translations up to a radius plus the motif's size, keeps the cloud about as small
    as the neighbour search needs: half the points on the dedup benchmark's set.
    """

    points: np.ndarray
    atoms: np.ndarray

    @classmethod
    def around(cls, motif: Motif, radius: float, spread: float) -> _Cloud:
        """Images within ``radius`` of the centre; the motif itself (untranslated) comes first, in order."""
        translations = _translations(motif.lattice, radius + spread)
        points = (translations[:, None, :] + motif.positions[None, :, :]).reshape(-1, 3)
        atoms = np.tile(np.arange(len(motif.positions)), len(translations))
        offsets = points[:, :2] - _centre(motif)
        keep = np.einsum("ij,ij->i", offsets, offsets) <= radius * radius
        return cls(points=points[keep], atoms=atoms[keep])


def pdd_distance(a: PDD, b: PDD) -> float:
    """Earth Mover's distance (Å) between two PDDs, Chebyshev ground metric between rows.

    Rows of different centre species cost ``SPECIES_MISMATCH_COST``; PDDs over different
    element sets, or with different k, are not comparable and are infinitely far apart.
    """
    return float(pdd_distances([a, b], [(0, 1)])[0])


def pdd_distances(pdds: Sequence[PDD], pairs: Sequence[tuple[int, int]] | np.ndarray) -> np.ndarray:
    """``pdd_distance`` of each pair of ``pdds`` (given by their indices), in one compiled call
    over all cores (``kernels.pdd_transport``): what dedup confirms its candidates with.

    One EMD is a few microseconds of arithmetic; called pair by pair from Python it took
    a quarter of a millisecond.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if not len(pairs):
        return np.zeros(0)
    if pairs.min() < 0 or pairs.max() >= len(pdds):
        raise IndexError(f"pair indices must lie in [0, {len(pdds)})")
    kinds: dict[tuple[tuple[str, ...], int], int] = {}
    starts = np.zeros(len(pdds) + 1, dtype=np.int64)
    np.cumsum([len(p.counts) for p in pdds], out=starts[1:])
    widths = np.array([p.rows.shape[1] for p in pdds], dtype=np.int64)
    rows = np.zeros((starts[-1], widths.max()))
    for pdd, start, width in zip(pdds, starts[:-1], widths, strict=True):
        rows[start : start + len(pdd.counts), :width] = pdd.rows
    _, codes = np.unique(np.array(list(chain.from_iterable(p.species for p in pdds))), return_inverse=True)
    return pdd_transport(
        rows,
        np.concatenate([p.counts for p in pdds]).astype(np.int64),
        codes.astype(np.int64),
        starts,
        widths,
        np.array([kinds.setdefault((p.elements, p.k), len(kinds)) for p in pdds], dtype=np.int64),
        pairs,
        SPECIES_MISMATCH_COST,
    )


def emd_lower_bound(amd_a: np.ndarray, amd_b: np.ndarray) -> np.ndarray:
    """A lower bound (Å) of ``pdd_distance`` from the AMDs alone: ``max |a[:K] - b[:K]|``,
    K = ``K_PER_ELEMENT``, over the last axis (so it takes stacks of pairs).

    An AMD's first K entries average each atom's K nearest distances to atoms of any element:
    the K smallest of its PDD row's per-element distances. Taking the smallest entries of a
    list moves none of them further than the list moved (Chebyshev), so the AMD prefixes of
    two structures differ by at most the optimal transport cost between their PDD rows (the
    argument of Widdowson & Kurlin for AMD and PDD). A pair whose bound exceeds the dedup
    tolerance cannot merge, and dedup skips its EMD.
    """
    return np.abs(amd_a[..., :K_PER_ELEMENT] - amd_b[..., :K_PER_ELEMENT]).max(axis=-1)


def earth_movers_distance(counts_a: np.ndarray, counts_b: np.ndarray, cost: np.ndarray) -> float:
    """Minimal cost of moving the atoms of one PDD onto the other's, each side's mass being 1.

    Row weights are atom counts over the cell's atoms (divided by their gcd, which undoes
    supercells), so with L = lcm(atoms of a, atoms of b) every row holds a whole number of
    units of mass 1/L, and ``kernels.transport_cost`` solves the integer transport problem
    exactly (its optimum is integral).
    """
    counts_a = np.asarray(counts_a, dtype=np.int64)
    counts_b = np.asarray(counts_b, dtype=np.int64)
    counts_a = counts_a // math.gcd(*counts_a.tolist())
    counts_b = counts_b // math.gcd(*counts_b.tolist())
    size_a, size_b = int(counts_a.sum()), int(counts_b.sum())
    copies = math.lcm(size_a, size_b)
    supply, demand = counts_a * (copies // size_a), counts_b * (copies // size_b)
    return transport_cost(np.ascontiguousarray(cost, dtype=float), supply, demand) / copies


def _centre(motif: Motif) -> np.ndarray:
    """The motif's in-plane centre (mean position): what clouds and their exactness check share."""
    return motif.positions[:, :2].mean(axis=0)


def _spread(motif: Motif) -> float:
    """Largest in-plane distance of a motif atom from ``_centre``."""
    return float(np.linalg.norm(motif.positions[:, :2] - _centre(motif), axis=1).max())


def _initial_radius(motif: Motif, k: int, spread: float) -> float:
    """A cloud radius that usually suffices: k neighbours at the in-plane density, plus the motif's spread.

    The same first guess as the compiled kernel's (``kernels.RADIUS_MARGIN``).
    """
    area = abs(np.linalg.det(motif.lattice[:, :2]))
    density = len(motif.positions) / area
    reach = np.sqrt((k + 1) / (np.pi * density))
    return RADIUS_MARGIN * reach + spread


def _translations(lattice: np.ndarray, radius: float) -> np.ndarray:
    """All in-plane lattice translations u·a + v·b no longer than ``radius``, origin first.

    Squared lengths and a plain grid instead of ``norm``/``meshgrid``: this runs once per
    structure, where numpy's per-call overhead is most of the cost.
    """
    a, b = lattice[0], lattice[1]
    area = abs(a[0] * b[1] - a[1] * b[0])
    nu = int(np.ceil(radius * np.sqrt(b @ b) / area))
    nv = int(np.ceil(radius * np.sqrt(a @ a) / area))
    u = np.arange(-nu, nu + 1, dtype=float)
    v = np.arange(-nv, nv + 1, dtype=float)
    vectors = (u[:, None, None] * a + v[None, :, None] * b).reshape(-1, 3)
    keep = np.einsum("ij,ij->i", vectors, vectors) <= radius * radius
    keep[nu * (2 * nv + 1) + nv] = False
    return np.concatenate([np.zeros((1, 3)), vectors[keep]])


def _batches(jobs: list[tuple[int, _Cloud]], motifs: Sequence[Motif]) -> list[list[tuple[int, _Cloud]]]:
    """Consecutive jobs (sorted by size) grouped so one padded batch stays under BATCH_ELEMENTS."""
    batches: list[list[tuple[int, _Cloud]]] = []
    current: list[tuple[int, _Cloud]] = []
    widest_m = widest_n = 0
    for job in jobs:
        m = len(motifs[job[0]].positions)
        n = len(job[1].points)
        m2, n2 = max(widest_m, m), max(widest_n, n)
        if current and (len(current) + 1) * m2 * n2 > BATCH_ELEMENTS:
            batches.append(current)
            current, m2, n2 = [], m, n
        current.append(job)
        widest_m, widest_n = m2, n2
    if current:
        batches.append(current)
    return batches


def _batch_distances(
    items: list[tuple[Motif, _Cloud]], k: int, k_element: int, device: torch.device
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Padded batch: per motif, the k smallest distances from its atoms to its periodic cloud,
    and the k_element smallest to the atoms of each of its elements (inf where too few).

    float64 like the compiled kernel, so that both give the same invariants (float32 was 3×
    faster on the CPU but up to 2e-5 Å off).
    Per-element distances come from the blind nearest list where it holds them
    (``_element_block``), so only rare elements need a masked search.
    """
    import torch

    sizes = [len(motif.positions) for motif, _ in items]
    clouds = [len(cloud.points) for _, cloud in items]
    m_max, n_max = max(sizes), max(clouds)
    element_lists = [sorted(set(motif.species)) for motif, _ in items]
    n_elements = max(len(e) for e in element_lists)
    centres = torch.zeros((len(items), m_max, 3), dtype=torch.float64)
    points = torch.full((len(items), n_max, 3), 1e12, dtype=torch.float64)
    kinds = torch.full((len(items), n_max), -1, dtype=torch.int64)
    for b, (motif, cloud) in enumerate(items):
        centres[b, : len(motif.positions)] = torch.from_numpy(motif.positions).double()
        points[b, : len(cloud.points)] = torch.from_numpy(cloud.points).double()
        index = {e: i for i, e in enumerate(element_lists[b])}
        kind = np.array([index[s] for s in motif.species], dtype=np.int64)
        kinds[b, : len(cloud.points)] = torch.from_numpy(kind[cloud.atoms])
    centres, points, kinds = centres.to(device), points.to(device), kinds.to(device)
    distances = torch.cdist(centres, points)
    diagonal = torch.arange(m_max, device=device)
    distances[:, diagonal, diagonal] = float("inf")
    width = min(max(k, k_element), n_max)
    nearest, order = torch.topk(distances, width, dim=2, largest=False, sorted=True)
    near_kinds = torch.gather(kinds[:, None, :].expand(-1, m_max, -1), 2, order)
    has_element = torch.tensor([[e < len(own) for e in range(n_elements)] for own in element_lists], device=device)
    blocks = [
        _element_block(distances, nearest, near_kinds, kinds, e, has_element[:, e], min(k_element, n_max))
        for e in range(n_elements)
    ]
    blind = nearest[:, :, :k].cpu().double().numpy()
    resolved = torch.cat(blocks, dim=2).cpu().double().numpy()
    return [
        (blind[b, :m], resolved[b, :m, : k_element * len(element_lists[b])]) for b, m in enumerate(sizes)
    ]


def _element_block(
    distances: torch.Tensor,
    nearest: torch.Tensor,
    near_kinds: torch.Tensor,
    kinds: torch.Tensor,
    element: int,
    present: torch.Tensor,
    width: int,
) -> torch.Tensor:
    """The ``width`` smallest distances from each centre to atoms of ``element``.

    They are read off the species-blind nearest list (100 long), which holds them for every
    centre unless the element is rare in the motif; only motifs where some centre does not
    find ``width`` of them there search their whole distance matrix, other elements masked.
    """
    import torch

    hit = near_kinds == element
    rank = hit.cumsum(dim=2)
    block = torch.full((*nearest.shape[:2], width), float("inf"), dtype=nearest.dtype, device=nearest.device)
    b, i, j = (hit & (rank <= width)).nonzero(as_tuple=True)
    block[b, i, rank[b, i, j] - 1] = nearest[b, i, j]
    short = present & (rank[:, :, -1] < width).any(dim=1)
    if bool(short.any()):
        rows = short.nonzero(as_tuple=True)[0]
        inf = torch.tensor(float("inf"), device=distances.device)
        masked = torch.where((kinds[rows] == element)[:, None, :], distances[rows], inf)
        block[rows] = torch.topk(masked, width, dim=2, largest=False, sorted=True).values
    return block
