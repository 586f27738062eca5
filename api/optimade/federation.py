"""Federated OPTIMADE search: one filter, several providers, merged and deduplicated hits.

Queries go through ``optimade``'s own ``OptimadeClient`` (concurrent, paginating, retrying).
Hits from different providers are the same material when they have the same reduced
formula and periodicity and:

- both are layers returned with full structures: their species-resolved PDDs (atlas2d's
  isometry invariants, ``embeddings/invariants.py``) are within the dedup tolerance, the same
  rule ``atlas2d dedup`` applies, so rotations, cells, supercells, vacuum and atom order do
  not matter while polymorphs (1T vs 2H MoS2, whose cells are within 0.1 % per site) stay apart;
- otherwise (bulk crystals, hits without positions): the same cell size per site (in-plane
  area per site for layers, volume per site for bulk) within ``DENSITY_TOLERANCE``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atlas2d.embeddings.structure.candidates import DEFAULT_TOLERANCE
from atlas2d.embeddings.structure.invariants import (
    PDD,
    Motif,
    invariants_of_motifs,
    pdd_distance,
)
from atlas2d.ingest.records import HarmonizationError
from atlas2d.ingest.sources.optimade_json import layer_of

DENSITY_TOLERANCE = 0.03
"""Relative difference in area (or volume) per site below which two cells count as equal."""

RESPONSE_FIELDS = [
    "id",
    "chemical_formula_reduced",
    "chemical_formula_descriptive",
    "elements",
    "nsites",
    "dimension_types",
    "nperiodic_dimensions",
    "lattice_vectors",
    "cartesian_site_positions",
    "species_at_sites",
    "species",
]


@dataclass
class Hit:
    """One structure one provider returned."""

    provider: str
    id: str
    formula: str | None
    nsites: int | None
    periodic: tuple[int, ...] | None
    cell_per_site: float | None
    attributes: dict[str, Any] = field(repr=False, default_factory=dict)
    pdd: PDD | None = field(repr=False, default=None)


@dataclass
class Group:
    """Hits judged to be the same material, with the providers that hold it."""

    formula: str | None
    periodic: tuple[int, ...] | None
    cell_per_site: float | None
    hits: list[Hit]

    @property
    def providers(self) -> list[str]:
        return sorted({h.provider for h in self.hits})


def search(filter_text: str, providers: list[str], max_results: int = 1000, timeout: float = 30) -> tuple[list[Hit], dict[str, list[str]]]:
    """Run ``filter_text`` on every provider base URL; return the hits and each provider's errors."""
    from optimade.client import OptimadeClient

    client = OptimadeClient(
        base_urls=providers,
        max_results_per_provider=max_results,
        http_timeout=timeout,
        max_attempts=2,
        silent=True,
    )
    results = client.get(filter=filter_text, endpoint="structures", response_fields=RESPONSE_FIELDS)
    by_url = results.get("structures", {}).get(filter_text, {})
    hits: list[Hit] = []
    errors: dict[str, list[str]] = {}
    for url in providers:
        answer = by_url.get(url) or by_url.get(url.rstrip("/")) or {}
        if answer.get("errors"):
            errors[url] = [str(e) for e in answer["errors"]]
        hits += [hit_from_resource(url, entry) for entry in answer.get("data", [])]
    for url in providers:
        if url not in by_url and url.rstrip("/") not in by_url:
            errors.setdefault(url, ["no answer"])
    return hits, errors


def hit_from_resource(provider: str, entry: dict[str, Any]) -> Hit:
    """A provider's structure resource (JSON:API ``data`` item) as a ``Hit`` with its merge keys."""
    attributes = entry.get("attributes") or {}
    periodic = attributes.get("dimension_types")
    return Hit(
        provider=provider,
        id=str(entry.get("id", "")),
        formula=attributes.get("chemical_formula_reduced") or _reduced(attributes.get("chemical_formula_descriptive")),
        nsites=attributes.get("nsites"),
        periodic=tuple(periodic) if periodic else None,
        cell_per_site=cell_per_site(attributes.get("lattice_vectors"), periodic, attributes.get("nsites")),
        attributes=attributes,
    )


def _reduced(descriptive: str | None) -> str | None:
    """A reduced formula from a descriptive one when the provider gives no reduced formula."""
    if not descriptive:
        return None
    from pymatgen.core import Composition

    try:
        counts = Composition(descriptive).reduced_composition.get_el_amt_dict()
    except (ValueError, KeyError):
        return None
    return "".join(f"{el}{'' if n == 1 else int(n) if float(n).is_integer() else n}" for el, n in sorted(counts.items()))


def cell_per_site(lattice: Any, periodic: Any, nsites: Any) -> float | None:
    """Area (two periodic directions) or volume (three) of the cell per site; None if unknowable."""
    if not lattice or not periodic or not nsites:
        return None
    try:
        vectors = np.asarray(lattice, dtype=float)
    except (TypeError, ValueError):
        return None
    if vectors.shape != (3, 3) or not np.isfinite(vectors).all():
        return None
    chosen = vectors[[i for i, p in enumerate(periodic) if p == 1]]
    if len(chosen) == 2:
        size = float(np.linalg.norm(np.cross(chosen[0], chosen[1])))
    elif len(chosen) == 3:
        size = abs(float(np.linalg.det(chosen)))
    else:
        return None
    return size / nsites if size > 0 else None


def merge(hits: list[Hit], tolerance: float = DENSITY_TOLERANCE, pdd_tolerance: float = DEFAULT_TOLERANCE) -> list[Group]:
    """Group hits of the same formula and periodicity that are the same material (module docstring).

    Hits without a lattice are never merged with others: a formula alone does not tell
    polymorphs apart.
    """
    _attach_pdds(hits)
    groups: list[Group] = []
    for hit in sorted(hits, key=lambda h: (h.formula or "", h.cell_per_site or math.inf, h.provider, h.id)):
        match = next((g for g in groups if _same(g, hit, tolerance, pdd_tolerance)), None)
        if match is None:
            groups.append(Group(hit.formula, hit.periodic, hit.cell_per_site, [hit]))
        else:
            match.hits.append(hit)
    return groups


def _attach_pdds(hits: list[Hit]) -> None:
    """Give every layer hit with a full, valid structure its PDD (computed in one batch)."""
    layers: list[tuple[Hit, Motif]] = []
    for hit in hits:
        if hit.periodic is None or sorted(hit.periodic) != [0, 1, 1]:
            continue
        try:
            layer = layer_of(hit.attributes)
        except HarmonizationError:
            continue
        layers.append((hit, Motif.from_arrays(layer.lattice[:2], layer.positions, layer.species)))
    if layers:
        for (hit, _), found in zip(layers, invariants_of_motifs([m for _, m in layers], device="cpu"), strict=True):
            hit.pdd = found.pdd


def _same(group: Group, hit: Hit, tolerance: float, pdd_tolerance: float) -> bool:
    if hit.formula is None or group.formula != hit.formula or group.periodic != hit.periodic:
        return False
    first = group.hits[0]
    if hit.pdd is not None and first.pdd is not None:
        return pdd_distance(hit.pdd, first.pdd) <= pdd_tolerance
    if hit.cell_per_site is None or group.cell_per_site is None:
        return False
    return abs(hit.cell_per_site - group.cell_per_site) <= tolerance * max(hit.cell_per_site, group.cell_per_site)
