"""Structures from any OPTIMADE provider, as a saved ``/structures`` JSON response.

Accepted: a response document (``{"data": [...], "meta": {"provider": {"prefix": …}}}``),
a bare list of structure resources, or one resource. Each resource has ``id`` and
``attributes`` with ``lattice_vectors``, ``cartesian_site_positions`` (Å),
``species_at_sites``, ``species`` and ``dimension_types``. The non-periodic direction
(``dimension_types`` 0) is the vacuum axis; when a provider leaves that lattice vector
``null`` (allowed for non-periodic directions) it is rebuilt normal to the layer with the
layer's thickness plus ``DEFAULT_VACUUM``. The source key is ``<provider prefix>:<id>``.

A 3D-periodic cell (``dimension_types`` [1, 1, 1], or none given) is a monolayer only when it
is a slab model: the first lattice vector, in the order c, a, b, along which the cell holds
at least ``atlas2d.ingest.limits.MIN_LAYER_VACUUM`` of vacuum (lattice length minus the
layer's thickness, measured by ``atlas2d.ingest.geometry``) is taken as the vacuum axis. A cell
with no such vector is a bulk crystal and is quarantined.

The provider's ``species_at_sites`` names and ``species`` objects are served back as they are
(``site_species``); the stored structure reads them as elements (``Ac1`` and ``Ac2`` are Ac to
invariants and dedup). A species mixing elements or with a vacancy (concentration below 1) is
quarantined: a harmonized site holds one element.

The raw record is the resource as the provider wrote it (its ``last_modified``,
``immutable_id``, ``species`` names such as ``Ac1``/``Ac2`` and ``relationships`` included),
plus what the document says around it: ``_optimade_provider`` (the ``meta.provider``
object) and ``_optimade_references`` (the ``included`` reference resources the resource
names). A document whose ``meta`` or ``meta.provider`` is not an object, or whose prefix is
not an OPTIMADE prefix, cannot key its records: each resource is quarantined with that reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from atlas2d.ingest.formulas import check_element
from atlas2d.ingest.geometry import layer_from_arrays
from atlas2d.ingest.limits import MIN_LAYER_VACUUM
from atlas2d.ingest.records import HarmonizationError, Layer, Record, Rejected, SourceInfo
from atlas2d.ingest.sources.base import PAYLOAD_LIMIT, Adapter
from atlas2d.ingest.sources.common import (
    JSON_ERROR_CONTEXT,
    attempt,
    dumps,
    read_text,
    structure_record,
)

DEFAULT_VACUUM = 20.0
"""Å of vacuum added when a provider gives no lattice vector for the non-periodic direction."""

DEFAULT_PREFIX = "optimade"
"""The prefix of records from a file that names no provider (a bare list or resource)."""

PREFIX = re.compile(r"[a-z][a-z0-9_]*")
"""An OPTIMADE database-provider prefix (the specification's ``^[a-z]([a-z]|[0-9]|_)*$``)."""

SLAB_AXES = (2, 0, 1)
"""Lattice vectors tried as the vacuum axis of a 3D-periodic cell, in this order."""


def read(path: Path) -> Iterator[Record | Rejected]:
    """Every structure resource in one OPTIMADE JSON file."""
    text = ""
    try:
        text = read_text(path)
        document = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - whatever a hostile file raises (deep nesting: RecursionError) is the reason
        yield Rejected(locator=path.name, reason=f"unreadable JSON: {type(exc).__name__}: {exc}", payload=text[:JSON_ERROR_CONTEXT])
        return
    resources = document.get("data") if isinstance(document, dict) and "data" in document else document
    resources = resources if isinstance(resources, list) else [resources]
    try:
        prefix, context = _context(document)
    except HarmonizationError as exc:
        for index, resource in enumerate(resources):
            yield Rejected(locator=f"{path.name}[{index}]", reason=str(exc), payload=dumps(resource)[:PAYLOAD_LIMIT])
        return
    for index, resource in enumerate(resources):
        locator = f"{path.name}[{index}]"
        yield attempt(locator, lambda r=resource: dumps(r), lambda r=resource, locator=locator: _record(r, prefix, context, locator))


def _context(document: object) -> tuple[str, dict[str, Any]]:
    """The provider prefix of a response document and what it says about its resources."""
    if not isinstance(document, dict) or "data" not in document:
        return DEFAULT_PREFIX, {}
    meta = document.get("meta")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise HarmonizationError(f"meta is a {type(meta).__name__}, not an object: the provider of the records cannot be read")
    provider = meta.get("provider")
    if provider is None:
        provider = {}
    if not isinstance(provider, dict):
        raise HarmonizationError(f"meta.provider is a {type(provider).__name__}, not an object: the provider prefix cannot be read")
    prefix = provider.get("prefix") or DEFAULT_PREFIX
    if not isinstance(prefix, str) or not PREFIX.fullmatch(prefix):
        shown = prefix[:100] if isinstance(prefix, str) else prefix
        raise HarmonizationError(
            f"meta.provider.prefix {shown!r} is not an OPTIMADE prefix (a lower-case letter, then letters, digits or '_')"
        )
    included = document.get("included")
    references = {
        item["id"]: item
        for item in (included if isinstance(included, list) else [])
        if isinstance(item, dict) and item.get("type") == "references" and isinstance(item.get("id"), str)
    }
    return prefix, {"provider": provider or None, "references": references}


def _record(resource: Any, prefix: str, context: dict[str, Any], locator: str) -> Record:
    if not isinstance(resource, dict) or not isinstance(resource.get("attributes"), dict):
        raise HarmonizationError("a structure resource is an object with 'attributes'")
    if resource.get("type", "structures") != "structures":
        raise HarmonizationError(f"resource type {resource.get('type')!r} is not 'structures'")
    identifier = resource.get("id")
    if not isinstance(identifier, str) or not identifier:
        raise HarmonizationError(f"missing or empty id: {identifier!r}")
    raw = dict(resource)
    if context.get("provider"):
        raw["_optimade_provider"] = context["provider"]
    cited = _cited_references(resource, context.get("references", {}))
    if cited:
        raw["_optimade_references"] = cited
    layer = layer_of(resource["attributes"])
    names = site_species(resource["attributes"], layer.species)
    return structure_record(
        f"{prefix}:{identifier}", layer, raw, [], locator, site_names=names.site_names, species=names.species
    )


@dataclass(frozen=True)
class SiteSpecies:
    """What a provider calls the species of a structure, as atlas2d serves it back."""

    site_names: tuple[str, ...] | None
    """The provider's ``species_at_sites``; None where they are the element symbols."""
    species: list[dict[str, Any]] | None
    """The provider's species objects named at sites, in its order, validated; None where it gave none."""


def site_species(attributes: dict[str, Any], elements: Sequence[str]) -> SiteSpecies:
    """The provider's species names and objects of a structure whose sites are ``elements`` (``layer_of`` accepted it).

    Served as the entry's ``species_at_sites`` and ``species``, so they must be valid OPTIMADE: each
    object passes the specification's ``Species`` model, names are unique strings and every name at
    a site has its object. An object with ``attached`` atoms is refused (the implicit atoms are in
    no harmonized structure: formula, invariants and dedup would miss them), and objects named at
    no site are not served (they would need the ``implicit_atoms`` structure feature); the raw
    record keeps them all.
    """
    from optimade.models.structures import Species  # 0.3-1.4 s to import: only once an OPTIMADE file is read
    from pydantic import ValidationError

    names = attributes["species_at_sites"]
    if not all(isinstance(name, str) for name in names):
        raise HarmonizationError("species_at_sites holds a name that is not a string")
    given = attributes.get("species")
    if given is None:
        return SiteSpecies(_differing(names, elements), None)
    if not isinstance(given, list) or not all(isinstance(item, dict) for item in given):
        raise HarmonizationError("species is not a list of species objects")
    listed = [item.get("name") for item in given]
    if len(set(map(repr, listed))) != len(listed):
        raise HarmonizationError(f"species names are not unique: {listed[:20]!r}")
    at_sites = set(names)
    missing = at_sites - set(n for n in listed if isinstance(n, str))
    if missing:
        raise HarmonizationError(f"species_at_sites names without a species object: {sorted(missing)[:20]!r}")
    objects = []
    for item in given:
        if item.get("name") not in at_sites:
            continue
        try:
            species = Species.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"]))
            raise HarmonizationError(f"species {item['name']!r} is not an OPTIMADE species object: {where}: {first['msg']}") from None
        if species.attached is not None:
            raise HarmonizationError(
                f"species {species.name!r} has attached atoms ({species.attached}), which no harmonized structure holds"
            )
        objects.append(species.model_dump(exclude_none=True))
    return SiteSpecies(_differing(names, elements), objects)


def _differing(names: list[str], elements: Sequence[str]) -> tuple[str, ...] | None:
    """``names`` unless they are ``elements``."""
    return None if list(names) == list(elements) else tuple(names)


def _cited_references(resource: dict[str, Any], references: dict[str, Any]) -> list[Any]:
    """The ``included`` reference resources that ``resource``'s relationships name."""
    relationships = resource.get("relationships")
    named = relationships.get("references") if isinstance(relationships, dict) else None
    data = named.get("data") if isinstance(named, dict) else None
    ids = [item.get("id") for item in (data if isinstance(data, list) else []) if isinstance(item, dict)]
    return [references[i] for i in ids if isinstance(i, str) and i in references]


def layer_of(attributes: dict[str, Any]) -> Layer:
    """The monolayer of a structure's attributes, or ``HarmonizationError`` (a bulk crystal among the reasons)."""
    positions = attributes.get("cartesian_site_positions")
    names = attributes.get("species_at_sites")
    if not isinstance(positions, list) or not isinstance(names, list) or not positions or not names:
        raise HarmonizationError("structure has no atoms")
    if len(positions) != len(names):
        raise HarmonizationError(f"{len(positions)} positions for {len(names)} species_at_sites")
    symbols = [_element(name, attributes.get("species")) for name in names]
    try:
        coords = np.array(positions, dtype=float)
    except (TypeError, ValueError) as exc:
        raise HarmonizationError(f"cartesian_site_positions are not numeric: {exc}") from exc
    dimension_types = attributes.get("dimension_types") or [1, 1, 1]
    if not isinstance(dimension_types, list) or sorted(map(repr, dimension_types)) not in (["0", "1", "1"], ["1", "1", "1"]):
        raise HarmonizationError(f"dimension_types {dimension_types!r} is not a layer (two periodic directions) or a 3D slab")
    vectors = attributes.get("lattice_vectors")
    if not isinstance(vectors, list) or len(vectors) != 3 or not all(v is None or isinstance(v, list) for v in vectors):
        raise HarmonizationError("lattice_vectors must be three vectors")
    if 0 not in dimension_types:
        return _slab_layer(_matrix(vectors), coords, symbols)
    vacuum_axis = dimension_types.index(0)
    if vectors[vacuum_axis] is None or any(x is None for x in vectors[vacuum_axis]):
        vectors = list(vectors)
        vectors[vacuum_axis] = _vacuum_vector(vectors, vacuum_axis, coords).tolist()
    matrix = _matrix(vectors)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise HarmonizationError(f"positions {coords.shape} have the wrong shape")
    return layer_from_arrays(matrix, coords, symbols, cartesian=True, vacuum_axis=vacuum_axis)


def _matrix(vectors: list[Any]) -> np.ndarray:
    try:
        matrix = np.array(vectors, dtype=float)
    except (TypeError, ValueError) as exc:
        raise HarmonizationError(f"lattice_vectors are not numeric: {exc}") from exc
    if matrix.shape != (3, 3):
        raise HarmonizationError(f"lattice {matrix.shape} has the wrong shape")
    return matrix


def _slab_layer(matrix: np.ndarray, coords: np.ndarray, symbols: list[str]) -> Layer:
    """The layer of a 3D-periodic cell along the first of ``SLAB_AXES`` with ``MIN_LAYER_VACUUM`` of vacuum."""
    widest = 0.0
    for axis in SLAB_AXES:
        layer = layer_from_arrays(matrix, coords, symbols, cartesian=True, vacuum_axis=axis)
        if layer.vacuum >= MIN_LAYER_VACUUM:
            return layer
        widest = max(widest, layer.vacuum)
    raise HarmonizationError(
        f"a 3D crystal (dimension_types [1, 1, 1]) with no lattice vector along which it has {MIN_LAYER_VACUUM:g} Å of vacuum "
        f"(widest: {widest:.2f} Å) is bulk, not a monolayer"
    )


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
