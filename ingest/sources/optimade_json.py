"""Structures from any OPTIMADE provider, as a saved ``/structures`` JSON response.

Accepted: a response document (``{"data": [...], "meta": {"provider": {"prefix": …}}}``),
a bare list of structure resources, or one resource. Each resource has ``id`` and
``attributes`` with ``lattice_vectors``, ``cartesian_site_positions`` (Å),
``species_at_sites``, ``species`` and ``dimension_types``. The non-periodic direction
(``dimension_types`` 0) is the vacuum axis; when a provider leaves that lattice vector
``null`` (allowed for non-periodic directions) it is rebuilt normal to the layer with the
layer's thickness plus ``DEFAULT_VACUUM``. The source key is ``<provider prefix>:<id>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from atlas2d.ingest.formulas import check_element
from atlas2d.ingest.geometry import layer_from_arrays
from atlas2d.ingest.records import HarmonizationError, Layer, Record, Rejected, SourceInfo
from atlas2d.ingest.sources.base import Adapter
from atlas2d.ingest.sources.common import (
    JSON_ERROR_CONTEXT,
    attempt,
    dumps,
    structure_record,
)

DEFAULT_VACUUM = 20.0
"""Å of vacuum added when a provider gives no lattice vector for the non-periodic direction."""


def read(path: Path) -> Iterator[Record | Rejected]:
    """Every structure resource in one OPTIMADE JSON file."""
    text = path.read_text(errors="replace")
    try:
        document = json.loads(text)
    except ValueError as exc:
        yield Rejected(locator=path.name, reason=f"unreadable JSON: {exc}", payload=text[:JSON_ERROR_CONTEXT])
        return
    prefix = "optimade"
    if isinstance(document, dict) and "data" in document:
        provider = (document.get("meta") or {}).get("provider") or {}
        prefix = str(provider.get("prefix") or prefix)
        document = document["data"]
    resources = document if isinstance(document, list) else [document]
    for index, resource in enumerate(resources):
        locator = f"{path.name}[{index}]"
        yield attempt(locator, lambda r=resource: dumps(r), lambda r=resource, locator=locator: _record(r, prefix, locator))


def _record(resource: Any, prefix: str, locator: str) -> Record:
    if not isinstance(resource, dict) or not isinstance(resource.get("attributes"), dict):
        raise HarmonizationError("a structure resource is an object with 'attributes'")
    if resource.get("type", "structures") != "structures":
        raise HarmonizationError(f"resource type {resource.get('type')!r} is not 'structures'")
    identifier = resource.get("id")
    if not isinstance(identifier, str) or not identifier:
        raise HarmonizationError(f"missing or empty id: {identifier!r}")
    return structure_record(f"{prefix}:{identifier}", layer_of(resource["attributes"]), resource, [], locator)


def layer_of(attributes: dict[str, Any]) -> Layer:
    positions = attributes.get("cartesian_site_positions")
    names = attributes.get("species_at_sites")
    if not positions or not names:
        raise HarmonizationError("structure has no atoms")
    if len(positions) != len(names):
        raise HarmonizationError(f"{len(positions)} positions for {len(names)} species_at_sites")
    symbols = [_element(name, attributes.get("species")) for name in names]
    try:
        coords = np.array(positions, dtype=float)
    except (TypeError, ValueError) as exc:
        raise HarmonizationError(f"cartesian_site_positions are not numeric: {exc}") from exc
    dimension_types = attributes.get("dimension_types") or [1, 1, 1]
    if sorted(dimension_types) not in ([0, 1, 1], [1, 1, 1]):
        raise HarmonizationError(f"dimension_types {dimension_types} is not a layer (two periodic directions)")
    vacuum_axis = dimension_types.index(0) if 0 in dimension_types else 2
    vectors = attributes.get("lattice_vectors")
    if not isinstance(vectors, list) or len(vectors) != 3:
        raise HarmonizationError("lattice_vectors must be three vectors")
    if vectors[vacuum_axis] is None or any(x is None for x in vectors[vacuum_axis]):
        vectors = list(vectors)
        vectors[vacuum_axis] = _vacuum_vector(vectors, vacuum_axis, coords).tolist()
    try:
        matrix = np.array(vectors, dtype=float)
    except (TypeError, ValueError) as exc:
        raise HarmonizationError(f"lattice_vectors are not numeric: {exc}") from exc
    if matrix.shape != (3, 3) or coords.ndim != 2 or coords.shape[1] != 3:
        raise HarmonizationError(f"lattice {matrix.shape} or positions {coords.shape} have the wrong shape")
    return layer_from_arrays(matrix, coords, symbols, cartesian=True, vacuum_axis=vacuum_axis)


def _element(name: Any, species: Any) -> str:
    """The chemical symbol of a species name; mixtures and vacancies are refused."""
    for entry in species or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            symbols = entry.get("chemical_symbols") or []
            concentration = entry.get("concentration") or [1.0]
            if len(symbols) != 1 or concentration != [1.0]:
                raise HarmonizationError(f"species {name!r} is disordered ({symbols}, {concentration}): one element per site is required")
            name = symbols[0]
            break
    if not isinstance(name, str):
        raise HarmonizationError(f"unknown element {name!r}")
    check_element(name)
    return name


def _vacuum_vector(vectors: list[Any], vacuum_axis: int, coords: np.ndarray) -> np.ndarray:
    try:
        a, b = (np.array(vectors[i], dtype=float) for i in range(3) if i != vacuum_axis)
    except (TypeError, ValueError) as exc:
        raise HarmonizationError(f"in-plane lattice_vectors are not numeric: {exc}") from exc
    normal = np.cross(a, b)
    if np.linalg.norm(normal) < 1e-6:
        raise HarmonizationError("in-plane lattice vectors are parallel")
    normal /= np.linalg.norm(normal)
    heights = coords @ normal
    return normal * (float(heights.max() - heights.min()) + DEFAULT_VACUUM)


ADAPTER = Adapter(
    SourceInfo(
        name="optimade",
        title="Structures saved from OPTIMADE providers (/structures responses)",
        license="as stated by each provider (see each entry's raw record)",
        url="https://www.optimade.org",
    ),
    "OPTIMADE /structures response JSON",
    read,
)
