"""How federated hits are merged: isometry invariants for layers, cell size otherwise."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure

from atlas2d.api.optimade.federation import Hit, hit_from_resource, merge
from atlas2d.ingest.samples import SAMPLES

MC2D = {item["structure_label"]: item for item in json.loads((SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json").read_text())}
MOS2_1T, MOS2_2H = MC2D["MoS2-44a10f28"], MC2D["MoS2-c63547f0"]


def _resource(identifier: str, structure: Structure, periodic: list[int] | None = None) -> dict[str, Any]:
    """An OPTIMADE structure resource as a provider would return it."""
    symbols = [site.specie.symbol for site in structure]
    return {
        "id": identifier,
        "attributes": {
            "chemical_formula_reduced": "MoS2",
            "nsites": len(structure),
            "dimension_types": periodic or [1, 1, 0],
            "lattice_vectors": structure.lattice.matrix.tolist(),
            "cartesian_site_positions": structure.cart_coords.tolist(),
            "species_at_sites": symbols,
            "species": [{"name": s, "chemical_symbols": [s], "concentration": [1.0]} for s in sorted(set(symbols))],
        },
    }


def _structure(item: dict[str, Any]) -> Structure:
    return Structure(
        Lattice([row[1:] for row in item["cell"]]),
        [site[4] for site in item["atomic_positions"]],
        [site[1:4] for site in item["atomic_positions"]],
        coords_are_cartesian=True,
    )


def _rotated_supercell(structure: Structure, vacuum: float) -> Structure:
    """A 2x1 supercell, rotated 30 degrees about z, atoms reversed, with another vacuum."""
    a, b, _ = structure.lattice.matrix
    cart = np.vstack([structure.cart_coords, structure.cart_coords + a])
    species = structure.species * 2
    angle = np.radians(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    matrix = np.array([2 * a, b, [0, 0, vacuum]]) @ rotation.T
    return Structure(Lattice(matrix), species[::-1], (cart @ rotation.T)[::-1], coords_are_cartesian=True)


def _hits() -> list[Hit]:
    t1, h2 = _structure(MOS2_1T), _structure(MOS2_2H)
    return [
        hit_from_resource("http://a", _resource("a-1T", t1)),
        hit_from_resource("http://b", _resource("b-1T", _rotated_supercell(t1, 35.0))),
        hit_from_resource("http://a", _resource("a-2H", h2)),
        hit_from_resource("http://c", _resource("c-2H", _rotated_supercell(h2, 18.0))),
    ]


def test_polymorphs_stay_apart_and_copies_merge_by_invariants() -> None:
    hits = _hits()
    assert abs(hits[0].cell_per_site - hits[2].cell_per_site) < 0.001 * hits[0].cell_per_site
    groups = sorted(sorted(h.id for h in g.hits) for g in merge(hits))
    assert groups == [["a-1T", "b-1T"], ["a-2H", "c-2H"]]
    assert all(h.pdd is not None for h in hits)


def test_without_positions_the_cell_size_rule_applies() -> None:
    hits = _hits()
    for hit in hits:
        del hit.attributes["cartesian_site_positions"]
    groups = merge(hits)
    assert len(groups) == 1, "1T and 2H MoS2 have the same area per site: without positions they cannot be told apart"
    assert all(h.pdd is None for h in hits)
