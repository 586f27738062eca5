"""One JSON-LD document per material, with a context that gives every key a meaning.

Structure keys are the OPTIMADE ones (``lattice_vectors``, ``species_at_sites``…) and map
to the OPTIMADE property definitions; everything else maps to the atlas2d ontology
(``ontology/atlas2d.ttl``). Arrays whose order matters (positions, species) are JSON
literals (``"@type": "@json"``), so they survive expansion, compaction and RDF round trips
exactly as written. IRIs are the graph's (``id:material/12``), so an export and
``atlas2d graph export`` speak about the same nodes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from atlas2d.ontology.vocabulary import (
    A2D,
    ID,
    OPTIMADE,
    method_iri,
    property_class,
    unit_iri,
)

SCALAR_STRUCTURE_KEYS = (
    "nsites",
    "nelements",
    "chemical_formula_reduced",
    "chemical_formula_anonymous",
    "chemical_formula_descriptive",
    "nperiodic_dimensions",
)
JSON_STRUCTURE_KEYS = (
    "lattice_vectors",
    "cartesian_site_positions",
    "species_at_sites",
    "elements",
    "elements_ratios",
    "dimension_types",
)
LAYER_KEYS = ("thickness", "vacuum", "area")
SOURCE_STRUCTURE_KEYS = ("species",)
"""Written only where the source gave them: its OPTIMADE species objects (``species_at_sites``
then holds its species names, ``Ac1``/``Ac2``, as the OPTIMADE API serves them)."""

CONTEXT: dict[str, Any] = {
    "@version": 1.1,
    "a2d": str(A2D),
    "id": str(ID),
    "opt": str(OPTIMADE),
    "qunit": "http://qudt.org/vocab/unit/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "material_id": {"@id": "a2d:materialId", "@type": "xsd:integer"},
    "split": {"@id": "a2d:split"},
    "n_entries": {"@id": "a2d:clusterSize", "@type": "xsd:integer"},
    "entries": {"@id": "a2d:hasEntry", "@container": "@set"},
    "source": {"@id": "a2d:fromDataset", "@type": "@id"},
    "source_key": {"@id": "a2d:sourceKey"},
    "revision": {"@id": "a2d:revision", "@type": "xsd:integer"},
    "structure": {"@id": "a2d:hasStructure"},
    **{key: {"@id": f"opt:{key}"} for key in SCALAR_STRUCTURE_KEYS},
    **{key: {"@id": f"opt:{key}", "@type": "@json"} for key in (*JSON_STRUCTURE_KEYS, *SOURCE_STRUCTURE_KEYS)},
    **{key: {"@id": f"a2d:{key}", "@type": "xsd:double"} for key in LAYER_KEYS},
    "properties": {"@id": "a2d:hasProperty", "@container": "@set"},
    "name": {"@id": "rdfs:label"},
    "value": {"@id": "a2d:numericValue", "@type": "xsd:double"},
    "value_text": {"@id": "a2d:textValue"},
    "unit": {"@id": "a2d:unit", "@type": "@id"},
    "method": {"@id": "a2d:method", "@type": "@id"},
    "source_field": {"@id": "a2d:sourceField"},
    "reference": {"@id": "a2d:reference"},
}
"""The ``@context`` of every exported document."""

_PREFIXES = {str(A2D): "a2d:", str(ID): "id:", "http://qudt.org/vocab/unit/": "qunit:"}


@lru_cache(maxsize=4096)
def compact_iri(iri: str) -> str:
    """``https://atlas2d.org/ontology#PBE`` -> ``a2d:PBE`` (the context's prefixes)."""
    for namespace, prefix in _PREFIXES.items():
        if iri.startswith(namespace):
            return prefix + iri.removeprefix(namespace)
    return iri


def material_document(material_id: int, split: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The document of one material from its entry rows.

    Each entry row has ``id``, ``source``, ``source_key``, ``revision``, ``formula`` (the
    material's reduced formula), ``structure`` (a
    dict of structure columns, or None) and ``properties`` (dicts of property columns).
    """
    has_layer = any(e["structure"] and e["structure"]["nperiodic_dimensions"] == 2 for e in entries)
    return {
        "@context": CONTEXT,
        "@id": f"id:material/{material_id}",
        "@type": ["a2d:Material", "a2d:Monolayer"] if has_layer else "a2d:Material",
        "material_id": material_id,
        "chemical_formula_reduced": entries[0]["formula"],
        "split": split,
        "n_entries": len(entries),
        "entries": [_entry(e) for e in entries],
    }


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@id": f"id:entry/{entry['id']}",
        "@type": "a2d:Entry",
        "source": f"id:dataset/{entry['source']}",
        "source_key": entry["source_key"],
        "revision": entry["revision"],
    }
    structure = entry["structure"]
    if structure is not None:
        document["structure"] = {
            "@id": f"id:entry/{entry['id']}/structure",
            "@type": "a2d:Structure",
            **{key: structure[key] for key in (*SCALAR_STRUCTURE_KEYS, *JSON_STRUCTURE_KEYS)},
            **{key: float(structure[key]) for key in LAYER_KEYS},
            **{key: structure[key] for key in SOURCE_STRUCTURE_KEYS if structure.get(key) is not None},
        }
    document["properties"] = [_property(p) for p in entry["properties"]]
    return document


@lru_cache(maxsize=4096)
def _types(name: str) -> str | tuple[str, str]:
    cls = property_class(name)
    return "a2d:Property" if cls == A2D.Property else ("a2d:Property", compact_iri(str(cls)))


def _property(row: dict[str, Any]) -> dict[str, Any]:
    types = _types(row["name"])
    document: dict[str, Any] = {
        "@id": f"id:property/{row['id']}",
        "@type": types if isinstance(types, str) else list(types),
        "name": row["name"],
        "method": compact_iri(str(method_iri(row["method"])[0])),
    }
    if row["value"] is not None:
        document["value"] = float(row["value"])
    if row["value_text"] is not None:
        document["value_text"] = row["value_text"]
    if row["unit"]:
        document["unit"] = compact_iri(str(unit_iri(row["unit"])))
    for key in ("source_field", "reference"):
        if row[key]:
            document[key] = row[key]
    return document
