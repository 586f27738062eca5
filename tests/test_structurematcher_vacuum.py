"""Why StructureMatcher is not the truth for layers: with 20 Å of vacuum it calls 2H- and 1T-MoS2 one structure.

StructureMatcher is a 3D matcher: its site tolerance (``stol`` = 0.3 by default) is a
fraction of (volume / atoms)^(1/3), and the volume of a slab model includes the vacuum.
With 20 Å of vacuum that length is 4.1 Å, so the tolerance is 1.2 Å, and the best mapping
of the trigonal-prismatic 2H layer onto the octahedral 1T layer (which moves the Mo atom
1.84 Å in-plane relative to the sulfur) fits within it. atlas2d's invariants are periodic
in the plane only, so the vacuum does not enter them, and the two polymorphs stay far
apart. (pymatgen 2026.10: with 10 Å of vacuum or less the matcher keeps them apart.)
"""

from __future__ import annotations

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from atlas2d.embeddings.structure.candidates import DEFAULT_TOLERANCE
from atlas2d.embeddings.structure.invariants import invariants, pdd_distance

A = 3.19
"""Å. In-plane lattice constant of MoS2."""

SULFUR_HEIGHT = 3.13
"""Å. Distance between the two sulfur planes."""


def _monolayer(molybdenum: tuple[float, float], vacuum: float) -> Structure:
    """MoS2 with its sulfur atoms over (2/3, 1/3) below and (1/3, 2/3) or (2/3, 1/3) above."""
    c = SULFUR_HEIGHT + vacuum
    half = SULFUR_HEIGHT / 2 / c
    upper = (2 / 3, 1 / 3) if molybdenum == (1 / 3, 2 / 3) else (1 / 3, 2 / 3)
    return Structure(
        Lattice.hexagonal(A, c),
        ["Mo", "S", "S"],
        [[*molybdenum, 0.5], [*upper, 0.5 + half], [2 / 3, 1 / 3, 0.5 - half]],
    )


def _2h(vacuum: float) -> Structure:
    """Trigonal prismatic: both sulfur atoms over one site, Mo over another."""
    s = _monolayer((1 / 3, 2 / 3), vacuum)
    s.replace(1, "S", [2 / 3, 1 / 3, s[1].frac_coords[2]])
    return s


def _1t(vacuum: float) -> Structure:
    """Octahedral: the sulfur atoms over the two different hollow sites, Mo over the third."""
    return _monolayer((0.0, 0.0), vacuum)


def test_the_two_polymorphs_are_built_as_intended() -> None:
    two_h, one_t = _2h(20.0), _1t(20.0)
    for s in (two_h, one_t):
        assert s.composition.reduced_formula == "MoS2"
        np.testing.assert_allclose(sorted(s.distance_matrix[0, 1:]), [2.41] * 2, atol=0.01)  # Mo-S bonds
    assert two_h.get_space_group_info()[0] == "P-6m2"
    assert one_t.get_space_group_info()[0] == "P-3m1"


def test_structurematcher_merges_2h_and_1t_mos2_through_the_vacuum_and_atlas2d_does_not() -> None:
    two_h, one_t = _2h(20.0), _1t(20.0)

    assert StructureMatcher().fit(two_h, one_t)  # default tolerances: "the same structure"
    assert not StructureMatcher(stol=0.1).fit(two_h, one_t)  # a tighter site tolerance sees the difference

    found = invariants([two_h, one_t])
    assert pdd_distance(found[0].pdd, found[1].pdd) > 2 * DEFAULT_TOLERANCE


def test_the_merge_comes_from_the_vacuum() -> None:
    """With 2 Å of vacuum the same matcher keeps them apart; atlas2d's distance does not change at all."""
    assert not StructureMatcher().fit(_2h(2.0), _1t(2.0))
    thin, thick = invariants([_2h(2.0), _1t(2.0)]), invariants([_2h(20.0), _1t(20.0)])
    assert abs(pdd_distance(thin[0].pdd, thin[1].pdd) - pdd_distance(thick[0].pdd, thick[1].pdd)) < 1e-6
