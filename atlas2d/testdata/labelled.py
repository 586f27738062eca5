"""A labelled set of duplicate / non-duplicate structure pairs built from real monolayers.

Duplicates are what the same monolayer looks like in two databases: another cell
(supercells 2×1 and 3×3), another atom order, a rotated frame, vacuum 10 Å vs 30 Å,
relaxation noise of 0.01–0.05 Å per atom and in-plane strain under 0.5 %. Non-duplicates
keep the formula but change the structure: real polymorphs (MC2D's same-formula entries,
e.g. 2H and 1T), other stackings (monolayer vs AA bilayer vs shifted bilayer), and
substitutions (two sites of different species swapped, or one element replaced). A swap
that happens to give the same crystal (hBN's two sites are equivalent) is labelled by
pymatgen's StructureMatcher instead of by assumption; MC2D polymorphs are labelled by
MC2D's prototype and space group.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from atlas2d.ingest.geometry import to_2d_convention
from atlas2d.testdata import SHARED_DATA
from atlas2d.testdata.poscar import poscar_structures

MC2D_FILE = SHARED_DATA / "mc2d" / "mc2d_v4_structures_sample.json"

INTERLAYER_GAP = 3.3
"""Å between the facing atoms of the two layers of a bilayer."""


@dataclass
class LabelledSet:
    """Structures by key, and pairs of keys labelled duplicate (True) or not (False)."""

    structures: dict[str, Structure] = field(default_factory=dict)
    pairs: list[tuple[str, str, bool, str]] = field(default_factory=list)

    def add(self, key: str, structure: Structure) -> str:
        self.structures[key] = structure
        return key

    def pair(self, a: str, b: str, duplicate: bool, kind: str) -> None:
        self.pairs.append((a, b, duplicate, kind))


def mc2d_structures() -> list[tuple[str, str, Structure]]:
    """MC2D's real monolayers as (structure_label, prototype, Structure), vacuum vector third."""
    records = json.loads(MC2D_FILE.read_text())
    result = []
    for record in records:
        lattice = [row[1:4] for row in record["cell"]]
        species = [p[0] for p in record["atomic_positions"]]
        coords = [p[1:4] for p in record["atomic_positions"]]
        structure = Structure(lattice, species, coords, coords_are_cartesian=True)
        result.append((record["structure_label"], f"{record['prototype']} {record['spg']}", structure))
    return result


def with_vacuum(structure: Structure, vacuum: float) -> Structure:
    """The layer in the 2D convention with the given vacuum (Å)."""
    layer = to_2d_convention(structure)
    s = layer.structure
    length = layer.thickness + vacuum
    matrix = s.lattice.matrix.copy()
    matrix[2] = [0.0, 0.0, length]
    cart = s.cart_coords.copy()
    cart[:, 2] += length / 2 - s.lattice.c / 2
    return Structure(Lattice(matrix), s.species, cart, coords_are_cartesian=True)


def rotated(structure: Structure, rng: np.random.Generator) -> Structure:
    """The same structure in a randomly rotated Cartesian frame."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return Structure(Lattice(structure.lattice.matrix @ q.T), structure.species, structure.frac_coords)


def noisy(structure: Structure, rng: np.random.Generator, low: float = 0.01, high: float = 0.05) -> Structure:
    """Every atom moved by a random vector of length in [low, high] Å."""
    directions = rng.normal(size=(len(structure), 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    shifts = directions * rng.uniform(low, high, size=(len(structure), 1))
    return Structure(structure.lattice, structure.species, structure.cart_coords + shifts, coords_are_cartesian=True)


def strained(structure: Structure, rng: np.random.Generator, limit: float = 0.0049) -> Structure:
    """In-plane strain with both principal strains below ``limit`` (fractional positions kept)."""
    s = to_2d_convention(structure).structure
    principal = rng.uniform(-limit, limit, size=2)
    angle = rng.uniform(0, np.pi)
    c, si = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -si], [si, c]])
    tensor = np.eye(3)
    tensor[:2, :2] = rot @ np.diag(1 + principal) @ rot.T
    return Structure(Lattice(s.lattice.matrix @ tensor.T), s.species, s.frac_coords)


def permuted(structure: Structure, rng: np.random.Generator) -> Structure:
    """The same sites in a random order."""
    order = rng.permutation(len(structure))
    return Structure.from_sites([structure[i] for i in order])


def supercell(structure: Structure, na: int, nb: int) -> Structure:
    """An in-plane supercell."""
    return structure.copy().make_supercell([[na, 0, 0], [0, nb, 0], [0, 0, 1]])


def bilayer(structure: Structure, shift: tuple[float, float]) -> Structure:
    """Two copies of the layer, the upper one shifted in-plane by ``shift`` (fractional)."""
    layer = to_2d_convention(structure)
    s = layer.structure
    offset = layer.thickness + INTERLAYER_GAP
    length = 2 * layer.thickness + INTERLAYER_GAP + 20.0
    plane = s.lattice.matrix.copy()
    plane[2] = [0.0, 0.0, length]
    lattice = Lattice(plane)
    lower = s.cart_coords.copy()
    lower[:, 2] += -s.cart_coords[:, 2].min() + 10.0
    upper = lower + np.array(shift[0] * plane[0] + shift[1] * plane[1] + [0, 0, offset])
    species = list(s.species) * 2
    return Structure(lattice, species, np.vstack([lower, upper]), coords_are_cartesian=True)


def swapped(structure: Structure, rng: np.random.Generator) -> Structure | None:
    """Two sites of different species exchanged (same composition); None for one-element layers."""
    symbols = [site.specie.symbol for site in structure]
    if len(set(symbols)) < 2:
        return None
    i = int(rng.integers(len(symbols)))
    others = [j for j, sym in enumerate(symbols) if sym != symbols[i]]
    j = others[int(rng.integers(len(others)))]
    symbols[i], symbols[j] = symbols[j], symbols[i]
    return Structure(structure.lattice, symbols, structure.frac_coords)


def substituted(structure: Structure) -> Structure:
    """Every atom of the first element replaced by a neighbour in its group (another composition)."""
    replacements = {"S": "Se", "Se": "Te", "Te": "S", "O": "S", "Cl": "Br", "Br": "I", "I": "Cl", "F": "Cl"}
    first = sorted({site.specie.symbol for site in structure})[0]
    target = replacements.get(first, "Se" if first != "Se" else "S")
    s = structure.copy()
    s.replace_species({first: target})
    return s


def build(n_bases: int, seed: int = 7, max_sites: int = 24) -> LabelledSet:
    """The labelled set from the first ``n_bases`` poscar2d monolayers plus MC2D's polymorphs.

    Per base: 11 duplicate pairs (two draws of the random changes) and 6 non-duplicate
    pairs. MC2D entries of one formula are different polymorphs by MC2D's own prototype and
    space group (2H vs 1T MoS2 and the like); pymatgen's StructureMatcher is not used for
    them because with its default tolerances it matches 2H to 1T slabs (the vacuum inflates
    its length scale).
    """
    rng = np.random.default_rng(seed)
    data = LabelledSet()
    matcher = StructureMatcher()
    for name, original in poscar_structures(n_bases, max_sites):
        base = data.add(f"{name}/base", with_vacuum(original, 20.0))
        s = data.structures[base]
        variants = {
            "supercell2x1": supercell(s, 2, 1),
            "supercell3x3": supercell(s, 3, 3),
            "permuted": permuted(s, rng),
            "rotated": rotated(s, rng),
            "noisy-low": noisy(s, rng, 0.01, 0.03),
            "noisy-high": noisy(s, rng, 0.03, 0.05),
            "strained": strained(s, rng),
            "strained-again": strained(s, rng),
            "all": noisy(strained(rotated(permuted(supercell(with_vacuum(s, 30.0), 2, 1), rng), rng), rng), rng),
            "all-again": noisy(strained(rotated(permuted(with_vacuum(s, 10.0), rng), rng), rng), rng),
        }
        for kind, variant in variants.items():
            data.pair(base, data.add(f"{name}/{kind}", variant), True, kind.removesuffix("-again").split("-")[0])
        thin = data.add(f"{name}/vacuum10", with_vacuum(s, 10.0))
        thick = data.add(f"{name}/vacuum30", with_vacuum(s, 30.0))
        data.pair(thin, thick, True, "vacuum")
        aa = data.add(f"{name}/bilayer-AA", bilayer(s, (0.0, 0.0)))
        shifted = data.add(f"{name}/bilayer-shifted", bilayer(s, (0.37, 0.21)))
        data.pair(base, aa, False, "stacking")
        data.pair(base, shifted, False, "stacking")
        data.pair(aa, shifted, False, "stacking")
        data.pair(base, data.add(f"{name}/substituted", substituted(s)), False, "substitution")
        for draw in ("swapped", "swapped-again"):
            swap = swapped(s, rng)
            if swap is not None:
                key = data.add(f"{name}/{draw}", swap)
                data.pair(base, key, bool(matcher.fit(s, swap)), "swap")
    by_formula: dict[str, list[tuple[str, str]]] = {}
    for label, prototype, structure in mc2d_structures():
        key = data.add(f"mc2d/{label}", structure)
        by_formula.setdefault(structure.composition.reduced_formula, []).append((key, prototype))
    for members in by_formula.values():
        for i, (a, proto_a) in enumerate(members):
            for b, proto_b in members[i + 1 :]:
                data.pair(a, b, proto_a == proto_b, "polymorph")
    return data
