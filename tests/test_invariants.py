"""Isometry invariance of the 2D AMD/PDD on real monolayers from the poscar2d archive."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from atlas2d.embeddings.device import GPU_DRIVER_NODES, resolve_device, runs_on_cpu
from atlas2d.embeddings.structure.invariants import (
    PDD,
    Motif,
    amd,
    emd_lower_bound,
    invariants,
    pdd,
    pdd_distance,
)
from atlas2d.ingest.records import HarmonizationError
from atlas2d.testdata.labelled import (
    noisy,
    permuted,
    rotated,
    strained,
    supercell,
    swapped,
    with_vacuum,
)
from atlas2d.testdata.poscar import poscar_structures

REAL = [s for _, s in poscar_structures(12, 24)]


def test_real_structures_give_positive_sorted_amd() -> None:
    vectors = amd(REAL)
    assert vectors.shape == (len(REAL), 100)
    assert np.all(vectors > 0.5)
    assert np.all(np.diff(vectors, axis=1) >= 0)


@pytest.mark.parametrize(
    "change",
    [
        lambda s, rng: supercell(s, 2, 1),
        lambda s, rng: supercell(s, 3, 3),
        lambda s, rng: permuted(s, rng),
        lambda s, rng: rotated(s, rng),
        lambda s, rng: with_vacuum(s, 10.0),
        lambda s, rng: with_vacuum(s, 30.0),
    ],
    ids=["supercell2x1", "supercell3x3", "permutation", "rotation", "vacuum10", "vacuum30"],
)
def test_exact_invariance(change) -> None:  # noqa: ANN001 - a variant builder
    rng = np.random.default_rng(3)
    bases = REAL[:6]
    variants = [change(s, rng) for s in bases]
    found = invariants(list(bases) + variants)
    for original, variant in zip(found[: len(bases)], found[len(bases) :], strict=True):
        np.testing.assert_allclose(original.amd, variant.amd, atol=1e-4)
        assert pdd_distance(original.pdd, variant.pdd) < 1e-4


def test_reflection_and_translation_invariance() -> None:
    base = REAL[0]
    mirrored = Structure(Lattice(base.lattice.matrix * np.array([1.0, -1.0, 1.0])), base.species, base.frac_coords)
    shifted = base.copy()
    shifted.translate_sites(list(range(len(shifted))), [0.31, 0.17, 0.0])
    a, b, c = invariants([base, mirrored, shifted])
    assert pdd_distance(a.pdd, b.pdd) < 1e-4
    assert pdd_distance(a.pdd, c.pdd) < 1e-4


def test_noise_moves_pdd_by_at_most_twice_the_displacement() -> None:
    rng = np.random.default_rng(5)
    for base in REAL[:6]:
        a, b = invariants([base, noisy(base, rng, 0.01, 0.05)])
        distance = pdd_distance(a.pdd, b.pdd)
        assert 0 < distance <= 0.1 + 1e-9
        assert np.abs(a.amd - b.amd).max() <= 0.1 + 1e-9


def test_amd_prefix_bounds_the_pdd_emd_from_below() -> None:
    """dedup skips the EMD of pairs whose AMD bound exceeds the tolerance: the bound must hold."""
    rng = np.random.default_rng(11)
    changed = [noisy(strained(s, rng), rng, 0.05, 0.2) for s in REAL[:6]]
    exchanged = [v for s in REAL[:6] if (v := swapped(s, rng)) is not None]
    found = invariants(REAL[:6] + changed + exchanged)
    bounds, distances = [], []
    for i in range(len(found)):
        for j in range(i + 1, len(found)):
            distance = pdd_distance(found[i].pdd, found[j].pdd)
            if np.isfinite(distance):
                bounds.append(float(emd_lower_bound(found[i].amd, found[j].amd)))
                distances.append(distance)
    bounds_arr, distances_arr = np.array(bounds), np.array(distances)
    assert len(bounds) >= 6
    assert np.all(bounds_arr <= distances_arr + 1e-4)
    assert (bounds_arr > 0.01).sum() >= 6  # informative, though blind to swapped species (bound 0)


def test_different_materials_are_far_apart() -> None:
    found = invariants(REAL)
    for i in range(len(found)):
        for j in range(i + 1, len(found)):
            assert pdd_distance(found[i].pdd, found[j].pdd) > 0.2


def test_species_resolved_pdd_sees_swapped_sites() -> None:
    """Honeycomb AgBr: Ag and Br sites look alike geometrically; swapping one pair must still count."""
    honeycomb = Structure(
        Lattice([[4.2, 0, 0], [-2.1, 3.637, 0], [0, 0, 20]]), ["Ag", "Br"], [[1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5]]
    )
    cell = supercell(honeycomb, 2, 2)
    symbols = [site.specie.symbol for site in cell]
    silver, bromine = symbols.index("Ag"), symbols.index("Br")
    symbols[silver], symbols[bromine] = "Br", "Ag"
    swapped = Structure(cell.lattice, symbols, cell.frac_coords)
    a, b = invariants([cell, swapped])
    np.testing.assert_allclose(a.amd, b.amd, atol=1e-4)
    assert pdd_distance(a.pdd, b.pdd) > 0.3


def test_pdd_bytes_round_trip_and_incomparable_elements() -> None:
    first, second = pdd(REAL[0]), pdd(REAL[1])
    again = PDD.from_bytes(first.to_bytes())
    assert pdd_distance(first, again) < 1e-4
    assert again.elements == first.elements
    if first.elements != second.elements:
        assert pdd_distance(first, second) == float("inf")


def test_single_atom_layer_and_explicit_cpu_device() -> None:
    layer = Structure(Lattice([[2.5, 0, 0], [1.25, 1.25 * 3**0.5, 0], [0, 0, 15]]), ["C"], [[0, 0, 0.5]])
    result = invariants([layer], device="cpu")[0]
    assert result.amd[:6] == pytest.approx([2.5] * 6)
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")


def test_motif_from_stored_arrays_matches_structure() -> None:
    base = with_vacuum(REAL[2], 20.0)
    motif = Motif.from_arrays(base.lattice.matrix, base.cart_coords, [s.specie.symbol for s in base])
    from atlas2d.embeddings.structure.invariants import invariants_of_motifs

    np.testing.assert_allclose(invariants_of_motifs([motif])[0].amd, invariants([base])[0].amd, atol=1e-4)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        amd(REAL[:1], k=0)
    flat = Structure(Lattice([[2.5, 0, 0], [5.0, 0, 0], [0, 0, 15]]), ["C"], [[0, 0, 0.5]])
    with pytest.raises(HarmonizationError):
        invariants([flat])


def _transport_linprog(wa: np.ndarray, wb: np.ndarray, cost: np.ndarray) -> float:
    """The transport problem as a linear program (HiGHS): the reference for the compiled solver."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    m, n = cost.shape
    rows = np.concatenate([np.repeat(np.arange(m), n), m + np.tile(np.arange(n), m)])
    columns = np.concatenate([np.arange(m * n), np.arange(m * n)])
    constraints = coo_matrix((np.ones(2 * m * n), (rows, columns)), shape=(m + n, m * n)).tocsr()
    balance = np.concatenate([wa, wb])
    solution = linprog(cost.ravel(), A_eq=constraints[:-1], b_eq=balance[:-1], bounds=(0, None), method="highs")
    assert solution.status == 0, solution.message
    return float(solution.fun)


@pytest.mark.parametrize("shape", [(4, 6), (1, 5), (12, 9), (30, 40)])
def test_emd_transport_matches_the_linear_program(shape: tuple[int, int]) -> None:
    from atlas2d.embeddings.structure.invariants import earth_movers_distance

    rng = np.random.default_rng(9)
    for _ in range(20):
        counts_a, counts_b = rng.integers(1, 7, size=shape[0]), rng.integers(1, 5, size=shape[1])
        cost = rng.uniform(0, 1, size=shape)
        cost[rng.uniform(size=shape) < 0.3] = 100.0  # species mismatches
        exact = _transport_linprog(counts_a / counts_a.sum(), counts_b / counts_b.sum(), cost)
        assert earth_movers_distance(counts_a, counts_b, cost) == pytest.approx(exact, abs=1e-9)


def test_batched_pdd_distances_equal_single_ones_and_refuse_bad_pairs() -> None:
    from atlas2d.embeddings.structure.invariants import pdd_distances

    rng = np.random.default_rng(2)
    found = [inv.pdd for inv in invariants(REAL[:6] + [noisy(supercell(s, 2, 1), rng, 0.01, 0.05) for s in REAL[:6]])]
    pairs = [(i, j) for i in range(len(found)) for j in range(len(found))]
    batched = pdd_distances(found, pairs)
    assert batched == pytest.approx([pdd_distance(found[i], found[j]) for i, j in pairs], abs=1e-12)
    assert np.isinf(batched).any() and (batched[np.isfinite(batched)] < 0.1).sum() >= 12
    assert len(pdd_distances(found, [])) == 0
    with pytest.raises(IndexError):
        pdd_distances(found, [(0, len(found))])


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or any(Path(node).exists() for node in GPU_DRIVER_NODES),
    reason="a GPU driver is present: torch decides the device",
)
def test_cpu_invariants_do_not_import_torch_where_no_gpu_can_be() -> None:
    """``auto`` on a machine without a GPU driver runs the compiled path and never pays torch's import (2-8 s)."""
    script = (
        "import sys\n"
        "from atlas2d.embeddings.structure.invariants import invariants_of_motifs, Motif\n"
        "import numpy as np\n"
        "motif = Motif.from_arrays(np.eye(3)[:2] * 3.0, np.zeros((1, 3)), ['C'])\n"
        "assert len(invariants_of_motifs([motif], device='auto')) == 1\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    assert runs_on_cpu("auto") and runs_on_cpu("cpu") and not runs_on_cpu("meta")
