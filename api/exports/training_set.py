"""Stream the store into a training set on disk.

Entries are read in ``material_id`` order through a server-side cursor, in partitions of
``batch`` rows; each partition's property values come with one extra query; a material's
document is written as soon as its last entry has been read. Memory is bounded by one
partition plus one material, whatever the size of the store.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Select, func, select

from atlas2d.api.exports.croissant import croissant_metadata
from atlas2d.api.exports.jsonld import (
    CONTEXT,
    JSON_STRUCTURE_KEYS,
    LAYER_KEYS,
    SCALAR_STRUCTURE_KEYS,
    SOURCE_STRUCTURE_KEYS,
    material_document,
)
from atlas2d.api.exports.splits import SPLIT_NAMES, assign_split
from atlas2d.schema.models import SERVED_SPECIES_AT_SITES, Entry, Material, PropertyValue, Source, Structure

_SERVED = {"species_at_sites": SERVED_SPECIES_AT_SITES}
"""Columns exported as the OPTIMADE API serves them (the source's species names), not as stored."""
STRUCTURE_COLUMNS = [
    _SERVED.get(key, getattr(Structure, key)).label(key)
    for key in (*SCALAR_STRUCTURE_KEYS, *JSON_STRUCTURE_KEYS, *LAYER_KEYS, *SOURCE_STRUCTURE_KEYS)
]
PROPERTY_COLUMNS = ("id", "name", "value", "value_text", "unit", "method", "source_field", "reference")
SOURCE_COLUMNS = ("name", "title", "version", "license", "url", "citation")


@dataclass
class ExportSummary:
    """What an export wrote."""

    materials: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLIT_NAMES, 0))
    entries: int = 0
    unassigned_entries: int = 0
    files: list[str] = field(default_factory=list)


class _HashingWriter:
    """A text file that hashes what is written to it (for Croissant's sha256)."""

    def __init__(self, path: Path) -> None:
        self.handle: IO[str] = path.open("w", encoding="utf-8", newline="")
        self.sha = hashlib.sha256()

    def write(self, text: str) -> None:
        self.handle.write(text)
        self.sha.update(text.encode("utf-8"))

    def close(self) -> str:
        self.handle.close()
        return self.sha.hexdigest()


def entries_by_material() -> Select:
    """Every entry with its material, source and structure columns, ordered by material.

    The order lets the export write one material at a time from a streaming cursor.
    """
    return (
        select(Entry.id, Entry.material_id, Entry.source_key, Entry.revision,
               Material.chemical_formula_reduced.label("material_formula"),
               Source.name.label("source"), Structure.entry_id.label("has_structure"), *STRUCTURE_COLUMNS)
        .join(Material, Material.id == Entry.material_id)
        .join(Source, Source.id == Entry.source_id)
        .outerjoin(Structure, Structure.entry_id == Entry.id)
        .order_by(Entry.material_id, Entry.id)
    )


def filtered_materials(filter_text: str) -> Select[tuple[int]]:
    """The ids of the materials with an entry whose OPTIMADE structure matches ``filter_text``.

    Raises ``atlas2d.api.optimade.filter.FilterError`` for a filter that does not parse.
    """
    from atlas2d.api.optimade.fields import STRUCTURES
    from atlas2d.api.optimade.filter import filter_clause

    return select(STRUCTURES.c.material_id).where(filter_clause(filter_text)).distinct()


def count_materials(conn: Connection, materials: Select[tuple[int]] | None = None) -> int:
    """How many materials an export of ``materials`` (default: every material with an entry) writes."""
    selected = materials if materials is not None else select(Entry.material_id).where(Entry.material_id.is_not(None)).distinct()
    return conn.execute(select(func.count()).select_from(selected.subquery())).scalar_one()


def export_training_set(
    conn: Connection,
    out: Path,
    fractions: tuple[float, float, float],
    seed: int,
    materials: Select[tuple[int]] | None = None,
    filter_text: str | None = None,
    batch: int = 2000,
    on_material: Callable[[], None] | None = None,
) -> ExportSummary:
    """Write ``{train,validation,test}.jsonl``, ``splits.csv``, ``context.jsonld``,
    ``PROVENANCE.md`` and ``croissant.json`` into ``out``.

    ``materials`` is a SELECT of material ids to export (e.g. the ``material_id`` column of
    the OPTIMADE structures matching a filter, whose text ``filter_text`` goes into
    PROVENANCE.md); a selected material is exported whole, with all its entries, so a
    filter can never split a duplicate cluster.
    """
    out.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary()
    writers = {name: _HashingWriter(out / f"{name}.jsonl") for name in SPLIT_NAMES}
    splits_file = _HashingWriter(out / "splits.csv")
    splits_csv = csv.writer(splits_file)  # type: ignore[arg-type]
    splits_csv.writerow(["material_id", "split", "n_entries"])
    sources_used: set[str] = set()

    def flush(material_id: int, entries: list[dict[str, Any]]) -> None:
        split = assign_split(str(material_id), seed, fractions)
        document = material_document(material_id, split, entries)
        writers[split].write(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n")
        splits_csv.writerow([material_id, split, len(entries)])
        summary.materials[split] += 1
        summary.entries += len(entries)
        if on_material:
            on_material()

    query = entries_by_material()
    if materials is not None:
        query = query.where(Entry.material_id.in_(materials.scalar_subquery()))
    current: int | None = None
    entries: list[dict[str, Any]] = []
    # A cursor is planned for its first rows by default; this one is read to the end.
    conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": batch})
    for rows in result.partitions():
        properties = properties_by_entry(conn, [row.id for row in rows])
        for row in rows:
            sources_used.add(row.source)
            if row.material_id != current and entries:
                flush(current, entries)  # type: ignore[arg-type]
                entries = []
            current = row.material_id
            entries.append(entry_from_row(row, properties.get(row.id, [])))
    if entries:
        flush(current, entries)  # type: ignore[arg-type]
    summary.unassigned_entries = _count_unassigned(conn)

    split_files = {name: (f"{name}.jsonl", writers[name].close(), summary.materials[name]) for name in SPLIT_NAMES}
    splits_sha = splits_file.close()
    (out / "context.jsonld").write_text(json.dumps({"@context": CONTEXT}, indent=1, ensure_ascii=False), encoding="utf-8")
    sources = _sources(conn, sources_used)
    selection = filter_text if materials is not None else None
    (out / "PROVENANCE.md").write_text(_provenance(sources, fractions, seed, selection, summary), encoding="utf-8")
    metadata = croissant_metadata(
        split_files,
        ("splits.csv", splits_sha),
        licenses=sorted({s["license"] for s in sources if s["license"]}) or ["unknown"],
        citation="; ".join(s["citation"] for s in sources if s["citation"]) or "atlas2d export",
        description=(
            f"Two-dimensional materials exported by atlas2d from {', '.join(sorted(sources_used)) or 'an empty store'}: "
            f"one JSON-LD document per deduplicated material, split {'/'.join(map(str, fractions))} by material "
            f"with seed {seed}."
        ),
    )
    (out / "croissant.json").write_text(json.dumps(metadata, indent=1, ensure_ascii=False), encoding="utf-8")
    summary.files = sorted(p.name for p in out.iterdir())
    return summary


def entry_from_row(row: Any, properties: list[dict[str, Any]]) -> dict[str, Any]:
    """One entry of an ``entries_by_material`` row, with its property values, as ``material_document`` takes it."""
    structure = None
    if row.has_structure is not None:
        structure = {column.key: getattr(row, column.key) for column in STRUCTURE_COLUMNS}
    return {
        "id": row.id,
        "source": row.source,
        "source_key": row.source_key,
        "revision": row.revision,
        "formula": row.material_formula,
        "structure": structure,
        "properties": properties,
    }


def properties_by_entry(conn: Connection, entry_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The property values of ``entry_ids``, per entry id, in insertion order."""
    found: dict[int, list[dict[str, Any]]] = {}
    columns = [getattr(PropertyValue, c) for c in PROPERTY_COLUMNS]
    rows = conn.execute(
        select(PropertyValue.entry_id, *columns).where(PropertyValue.entry_id.in_(entry_ids)).order_by(PropertyValue.id)
    )
    for row in rows:
        found.setdefault(row.entry_id, []).append({c: getattr(row, c) for c in PROPERTY_COLUMNS})
    return found


def _count_unassigned(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(Entry).where(Entry.material_id.is_(None))).scalar_one()


def _sources(conn: Connection, names: set[str]) -> list[dict[str, Any]]:
    columns = [getattr(Source, c) for c in SOURCE_COLUMNS]
    rows = conn.execute(select(*columns).where(Source.name.in_(names)).order_by(Source.name)).mappings()
    return [dict(row) for row in rows]


def _provenance(
    sources: list[dict[str, Any]],
    fractions: tuple[float, float, float],
    seed: int,
    filter_text: str | None,
    summary: ExportSummary,
) -> str:
    lines = [
        "# Provenance and licences of this atlas2d export",
        "",
        "Every document keeps, per entry, the source data set and the record's key in it;",
        "each value keeps its method, unit and the source field it was read from. The data",
        "keep the licences of their sources, listed here; cite the sources when you use them.",
        "",
        "| source | title | version | licence | url | citation |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            "| " + " | ".join(str(s[k] or "").replace("|", "\\|") for k in SOURCE_COLUMNS) + " |"
            for s in sources
        ),
        "",
        "## How the splits were made",
        "",
        f"- fractions train/validation/test: {'/'.join(map(str, fractions))}, seed {seed}",
        "- unit of splitting: the duplicate cluster (one material = all entries dedup merged),",
        "  so no material is in two splits; split = SHA-256(seed:material_id) against the fractions",
        f"- selection: {filter_text or 'all materials'}",
        f"- materials per split: {', '.join(f'{k} {v}' for k, v in summary.materials.items())}; entries {summary.entries}",
        f"- entries not attached to a material (not exported): {summary.unassigned_entries}",
        "",
    ]
    return "\n".join(lines)
