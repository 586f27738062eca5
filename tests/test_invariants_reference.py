"""The compiled (numba) and torch invariants against a plain float64 reference.

The reference is written here for clarity, not speed: every periodic image within a
generous radius and full sorts (``_brute_force``), and the PDD row merging that atlas2d
used before the kernels (``_collapse``). It runs on real poscar2d monolayers and on the
labelled dedup set (supercells up to 3×3, rotated frames, noise, bilayers, swapped sites,
MC2D polymorphs), through both neighbour searches: the compiled kernel that the CPU runs,
and the torch search that CUDA runs (here on the CPU). Distances and AMDs agree to 1e-6 Å;
merged PDD rows are means of rows within the collapse tolerance (1e-4 Å), so the PDD is
held to the per-atom distribution within that tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from atlas2d.embeddings.structure.invariants import (
    COLLAPSE_TOLERANCE,
    K_PER_ELEMENT,
    PDD,
    Motif,
    invariants_of_cells,
    invariants_of_motifs,
    neighbour_distances,
    pdd_distance,
    torch_neighbour_search,
)
from atlas2d.ingest.geometry import to_2d_convention
from atlas2d.schema.models import AMD_K
from atlas2d.testdata.labelled import build, permuted, supercell
from atlas2d.testdata.poscar import poscar_structures

EXACT = 1e-6
"""Å. Largest difference allowed from the reference (float64 rounding is about 1e-13 Å)."""

POSCAR = [s for _, s in poscar_structures(40, 24)]


@pytest.fixture(scope="module")
def labelled() -> list[Structure]:
    """Every structure of the labelled set built from 3 bases, plus MC2D's polymorphs."""
    return list(build(3).structures.values())


def _brute_force(motif: Motif, k: int, k_element: int, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest distances among all images within ``reach`` Å of the cell, in float64."""
    heights = abs(np.linalg.det(motif.lattice[:, :2])) / np.linalg.norm(motif.lattice[:, :2], axis=1)
    span = int(np.ceil(reach / heights.min())) + 1
    steps = np.arange(-span, span + 1)
    u, v = np.meshgrid(steps, steps, indexing="ij")
    shifts = np.stack([u.ravel(), v.ravel()], axis=1) @ motif.lattice
    points = (shifts[:, None, :] + motif.positions[None, :, :]).reshape(-1, 3)
    species = np.tile(np.asarray(motif.species), len(shifts))
    d = np.linalg.norm(motif.positions[:, None, :] - points[None, :, :], axis=2)
    d[d < 1e-9] = np.inf
    blind = np.sort(d, axis=1)[:, :k]
    resolved = np.hstack([np.sort(np.where(species == e, d, np.inf), axis=1)[:, :k_element] for e in sorted(set(motif.species))])
    return blind, resolved


def _collapse(distances: np.ndarray, species: tuple[str, ...]) -> PDD:
    """The merging before the kernels: rows sorted by exact values, each joining the one before
    it when within the tolerance; the first row of a run stands for it."""
    labels = np.asarray(species)
    order = np.lexsort(tuple(distances[:, j] for j in range(distances.shape[1] - 1, -1, -1)) + (labels,))
    rows, names = distances[order], labels[order]
    starts = np.ones(len(rows), dtype=bool)
    starts[1:] = (names[1:] != names[:-1]) | ~(np.abs(np.diff(rows, axis=0)).max(axis=1) <= COLLAPSE_TOLERANCE)
    counts = np.bincount(np.cumsum(starts) - 1)
    return PDD(counts, rows[starts], tuple(names[starts].tolist()), tuple(sorted(set(species))), K_PER_ELEMENT)


def _per_atom(distances: np.ndarray, species: tuple[str, ...]) -> PDD:
    """The PDD before any merging: one row per atom, each of weight 1."""
    return PDD(np.ones(len(species), dtype=int), distances, tuple(species), tuple(sorted(set(species))), K_PER_ELEMENT)


def _atoms_per_species(pdd: PDD) -> dict[str, int]:
    found: dict[str, int] = {}
    for species, count in zip(pdd.species, pdd.counts.tolist(), strict=True):
        found[species] = found.get(species, 0) + count
    return found


def _check(structures: list[Structure]) -> tuple[int, int]:
    """Hold the compiled path to the reference on ``structures``; PDD rows in all (kernel, reference merging).

    Distances and AMDs must agree to EXACT; the PDD must be within the collapse tolerance of
    the per-atom distribution (an EMD), with the same atoms per element.
    """
    motifs = [Motif.from_structure(s) for s in structures]
    searched = neighbour_distances(motifs, AMD_K, K_PER_ELEMENT, "cpu")
    found = invariants_of_motifs(motifs, device="cpu")
    rows = [0, 0]
    for motif, (blind, resolved), result in zip(motifs, searched, found, strict=True):
        expected_blind, expected_resolved = _brute_force(motif, AMD_K, K_PER_ELEMENT, reach=max(blind.max(), resolved.max()) + 1.0)
        np.testing.assert_allclose(blind, expected_blind, rtol=0, atol=EXACT)
        np.testing.assert_allclose(resolved, expected_resolved, rtol=0, atol=EXACT)
        np.testing.assert_allclose(result.amd, expected_blind.mean(axis=0), rtol=0, atol=EXACT)
        per_atom = _per_atom(expected_resolved, motif.species)
        assert result.pdd.elements == per_atom.elements
        assert _atoms_per_species(result.pdd) == _atoms_per_species(per_atom)
        assert pdd_distance(result.pdd, per_atom) <= COLLAPSE_TOLERANCE
        rows[0] += len(result.pdd.rows)
        rows[1] += len(_collapse(expected_resolved, motif.species).rows)
    return rows[0], rows[1]


def test_compiled_invariants_equal_the_reference_on_poscar2d() -> None:
    kernel_rows, reference_rows = _check(POSCAR)
    assert kernel_rows < reference_rows  # equal rows that an exact-value sort interleaved are merged now


def test_compiled_invariants_equal_the_reference_on_the_labelled_set(labelled: list[Structure]) -> None:
    assert max(len(s) for s in labelled) >= 9 * 3  # 3×3 supercells are in
    kernel_rows, reference_rows = _check(labelled)
    assert kernel_rows <= reference_rows


def test_merged_rows_do_not_depend_on_the_cell() -> None:
    """Merged rows are means, so a supercell or another atom order gives the same PDD, not one within the tolerance."""
    rng = np.random.default_rng(4)
    bases = POSCAR[:8]
    variants = [supercell(s, 3, 2) for s in bases] + [permuted(s, rng) for s in bases]
    found = invariants_of_motifs([Motif.from_structure(s) for s in bases + variants], device="cpu")
    for i, result in enumerate(found[len(bases) :]):
        original = found[i % len(bases)].pdd
        assert result.pdd.species == original.species
        np.testing.assert_array_equal(result.pdd.counts * original.counts.sum(), original.counts * result.pdd.counts.sum())
        np.testing.assert_allclose(result.pdd.rows, original.rows, rtol=0, atol=1e-9)


def test_torch_search_equals_the_compiled_kernel(labelled: list[Structure]) -> None:
    """The torch search (what CUDA runs) gives the kernel's distances, so both devices store the same invariants."""
    motifs = [Motif.from_structure(s) for s in POSCAR[:20] + labelled[::3]]
    blind, resolved = torch_neighbour_search(motifs, AMD_K, K_PER_ELEMENT, "cpu")
    start = 0
    for motif, (kernel_blind, kernel_resolved) in zip(motifs, neighbour_distances(motifs, AMD_K, K_PER_ELEMENT, "cpu"), strict=True):
        end = start + len(motif.species)
        width = kernel_resolved.shape[1]
        np.testing.assert_allclose(blind[start:end], kernel_blind, rtol=0, atol=EXACT)
        np.testing.assert_allclose(resolved[start:end, :width], kernel_resolved, rtol=0, atol=EXACT)
        assert np.all(np.isinf(resolved[start:end, width:]))
        start = end


def test_rare_element_small_k_and_one_atom_cell_equal_the_reference() -> None:
    """A rare element (one dopant in 27 atoms) needs a far larger radius than the common ones;
    k below the per-element count, and a one-atom cell, exercise the other bounds."""
    smallest = sorted(POSCAR, key=len)
    doped = supercell(smallest[0], 3, 3)
    doped.replace(0, "Te" if "Se" in doped.composition else "Se")
    single = Structure(Lattice([[2.5, 0, 0], [1.25, 1.25 * 3**0.5, 0], [0, 0, 15]]), ["C"], [[0, 0, 0.5]])
    motifs = [Motif.from_structure(s) for s in (smallest[0], smallest[1], doped, single)]
    for k, k_element in ((100, 16), (5, 40)):
        for motif, (blind, resolved) in zip(motifs, neighbour_distances(motifs, k, k_element, "cpu"), strict=True):
            expected_blind, expected_resolved = _brute_force(motif, k, k_element, reach=max(blind.max(), resolved.max()) + 1.0)
            np.testing.assert_allclose(blind, expected_blind, rtol=0, atol=EXACT)
            np.testing.assert_allclose(resolved, expected_resolved, rtol=0, atol=EXACT)


def test_empty_batch_and_bad_counts() -> None:
    assert invariants_of_motifs([]) == []
    assert neighbour_distances([], AMD_K, K_PER_ELEMENT) == []
    with pytest.raises(ValueError, match="positive"):
        neighbour_distances([Motif.from_structure(POSCAR[0])], AMD_K, 0, "cpu")


def test_packed_cells_give_the_invariants_of_their_motifs(labelled: list[Structure]) -> None:
    """``invariants_of_cells`` (what dedup reads from the store) reduces and searches the same cells as ``Motif``."""
    layers = [to_2d_convention(s) for s in POSCAR[:10] + labelled[:40]]
    offsets = np.cumsum([0] + [len(layer.species) for layer in layers])
    packed = invariants_of_cells(
        np.stack([layer.lattice for layer in layers]),
        np.concatenate([layer.positions for layer in layers]),
        offsets,
        [symbol for layer in layers for symbol in layer.species],
        device="cpu",
    )
    motifs = invariants_of_motifs([Motif.from_arrays(layer.lattice, layer.positions, layer.species) for layer in layers], device="cpu")
    for found, expected in zip(packed, motifs, strict=True):
        np.testing.assert_allclose(found.amd, expected.amd, rtol=0, atol=1e-9)
        assert found.pdd.species == expected.pdd.species
        assert pdd_distance(found.pdd, expected.pdd) <= 1e-9


def test_packed_cells_refuse_inconsistent_arrays() -> None:
    layer = to_2d_convention(POSCAR[0])
    lattices, positions, species = layer.lattice[None], layer.positions, list(layer.species)
    with pytest.raises(ValueError, match="offsets"):
        invariants_of_cells(lattices, positions, [0, len(species) - 1], species)
    with pytest.raises(ValueError, match="one species each"):
        invariants_of_cells(lattices, positions, [0, len(species)], species[:-1])
    with pytest.raises(ValueError, match="at least one atom"):
        invariants_of_cells(np.stack([layer.lattice, layer.lattice]), positions, [0, 0, len(species)], species)
    assert invariants_of_cells(np.zeros((0, 3, 3)), np.zeros((0, 3)), [0], []) == []


def test_batch_kernel_on_skewed_cells_equals_the_reference(labelled: list[Structure]) -> None:
    """``invariants_of_cells`` reduces, searches, averages and merges inside one compiled pass
    (``kernels.batch_invariants``); given cells in long, skewed bases (an unimodular change of
    basis: the same lattice) it must still give the reference's AMD to 1e-6 Å and its PDD."""
    layers = [to_2d_convention(s) for s in POSCAR[:12] + labelled[::6]]
    skew = np.array([[1, 2, 0], [3, 7, 0], [0, 0, 1]])
    packed = invariants_of_cells(
        np.stack([skew @ layer.lattice for layer in layers]),
        np.concatenate([layer.positions for layer in layers]),
        np.cumsum([0] + [len(layer.species) for layer in layers]),
        [symbol for layer in layers for symbol in layer.species],
        device="cpu",
    )
    for layer, found in zip(layers, packed, strict=True):
        motif = Motif.from_arrays(layer.lattice, layer.positions, layer.species)
        blind, resolved = _brute_force(motif, AMD_K, K_PER_ELEMENT, reach=found.pdd.rows.max() + found.amd.max() + 1.0)
        np.testing.assert_allclose(found.amd, blind.mean(axis=0), rtol=0, atol=EXACT)
        per_atom = _per_atom(resolved, motif.species)
        assert found.pdd.elements == per_atom.elements
        assert _atoms_per_species(found.pdd) == _atoms_per_species(per_atom)
        assert pdd_distance(found.pdd, per_atom) <= COLLAPSE_TOLERANCE
