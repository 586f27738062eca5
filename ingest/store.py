"""Write harmonized records into the store, idempotently.

An entry is identified by (source, source_key). Its raw record's SHA-256 over canonical JSON
decides what happens on a re-run: same hash -> nothing changes; another hash -> the previous
raw record moves to ``entry_revision`` and the entry's structure and values are replaced.
Each call works inside the caller's transaction, so a batch lands whole or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from atlas2d.ingest.formulas import anonymous_formula, reduced_formula
from atlas2d.ingest.linking import link_new, record_space_group
from atlas2d.ingest.records import Record, Rejected, SourceInfo
from atlas2d.schema.models import (
    Entry,
    EntryRevision,
    Material,
    PropertyValue,
    Quarantine,
    Source,
    Structure,
)


@dataclass
class WriteCounts:
    """What one batch did to the store."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def canonical_sha256(payload: Any) -> str:
    """SHA-256 of ``payload`` as canonical JSON (sorted keys), the identity of a raw record."""
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def ensure_source(session: Session, info: SourceInfo) -> int:
    """Insert or refresh the ``source`` row for ``info``; return its id."""
    values = {
        "name": info.name,
        "title": info.title,
        "version": info.version,
        "license": info.license,
        "url": info.url,
        "citation": info.citation,
    }
    statement = pg_insert(Source).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[Source.name], set_={k: v for k, v in values.items() if k != "name"}
    ).returning(Source.id)
    return session.execute(statement).scalar_one()


def write_records(
    session: Session,
    source_id: int,
    records: Sequence[Record],
    source_file: str | None = None,
    materials: bool = True,
    combine: Callable[[dict[str, Any], Record], Record] | None = None,
) -> WriteCounts:
    """Insert new records, update changed ones, leave identical ones alone.

    ``materials=False`` gives new entries no material: for records that describe no
    material at all (a generated lattice model), which must not appear in material listings.
    ``combine`` (``Adapter.combine``) turns a record whose entry is stored with another raw
    record into the record holding both; identical to the stored one, it changes nothing.
    """
    counts = WriteCounts()
    if not records:
        return counts
    keys = [r.source_key for r in records]
    existing = {
        row.source_key: row
        for row in session.execute(
            select(Entry.id, Entry.source_key, Entry.raw_sha256, Entry.revision, Entry.raw).where(
                Entry.source_id == source_id, Entry.source_key.in_(keys)
            )
        )
    }
    fresh: list[tuple[Record, str]] = []
    for record in records:
        sha = canonical_sha256(record.raw)
        old = existing.get(record.source_key)
        if old is None:
            fresh.append((record, sha))
        elif old.raw_sha256 == sha:
            counts.unchanged += 1
        else:
            if combine is not None:
                record = combine(old.raw, record)
                sha = canonical_sha256(record.raw)
            if sha == old.raw_sha256:
                counts.unchanged += 1
            else:
                _replace(session, old, record, sha, source_file)
                counts.updated += 1
    if fresh:
        _insert(session, source_id, fresh, source_file, materials)
        counts.inserted += len(fresh)
    return counts


def quarantine(session: Session, source_name: str, source_file: str | None, rejected: Iterable[Rejected]) -> int:
    """Store rejected records with their reason; a record already quarantined is not repeated."""
    rows = [
        {
            "source_name": source_name,
            "source_file": None if source_file is None else _text(source_file),
            "locator": _text(r.locator),
            "reason": _text(r.reason),
            "payload": _text(r.payload),
            "payload_sha256": hashlib.sha256(r.payload.encode(errors="replace")).hexdigest(),
            "resolved": False,
        }
        for r in rejected
    ]
    if not rows:
        return 0
    statement = pg_insert(Quarantine).values(rows).on_conflict_do_nothing().returning(Quarantine.id)
    return len(session.execute(statement).all())


def _text(value: str) -> str:
    """``value`` storable in a PostgreSQL text column: NUL characters written as ``\\x00``, lone
    surrogates (not encodable as UTF-8) as ``\\udXXX``.

    A broken file may hold either; its quarantine row must still be written.
    """
    return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _insert(
    session: Session, source_id: int, fresh: list[tuple[Record, str]], source_file: str | None, materials: bool
) -> None:
    records = [record for record, _ in fresh]
    links = _materials_for(session, source_id, records) if materials else [(None, None)] * len(fresh)
    entry_ids = _next_ids(session, Entry.__tablename__, len(fresh))
    _copy(
        session,
        Entry.__tablename__,
        [
            {
                "id": entry_id,
                "source_id": source_id,
                "source_key": record.source_key,
                "material_id": material_id,
                "chemical_formula_reduced": record.chemical_formula_reduced,
                "raw": orjson.dumps(record.raw).decode(),
                "raw_sha256": sha,
                "source_file": source_file,
                "revision": 1,
                "space_group": record_space_group(record),
                "prototype": record.prototype,
                "material_link": note,
            }
            for entry_id, (record, sha), (material_id, note) in zip(entry_ids, fresh, links, strict=True)
        ],
    )
    _insert_children(session, list(zip(entry_ids, (record for record, _ in fresh), strict=True)))


def _replace(session: Session, old: Any, record: Record, sha: str, source_file: str | None) -> None:
    session.execute(
        insert(EntryRevision).values(entry_id=old.id, revision=old.revision, raw=old.raw, raw_sha256=old.raw_sha256)
    )
    session.execute(delete(Structure).where(Structure.entry_id == old.id))
    session.execute(delete(PropertyValue).where(PropertyValue.entry_id == old.id))
    session.execute(
        update(Entry)
        .where(Entry.id == old.id)
        .values(
            raw=record.raw,
            raw_sha256=sha,
            revision=old.revision + 1,
            chemical_formula_reduced=record.chemical_formula_reduced,
            source_file=source_file,
            space_group=record_space_group(record),
            prototype=record.prototype,
            updated_at=func.now(),
        )
    )
    _insert_children(session, [(old.id, record)])


def _insert_children(session: Session, pairs: list[tuple[int, Record]]) -> None:
    structures = [structure_row(entry_id, r) for entry_id, r in pairs if r.layer is not None]
    if structures:
        _copy(session, Structure.__tablename__, structures)
    values = [
        {
            "entry_id": entry_id,
            "name": v.name,
            "value": v.value,
            "value_text": v.value_text,
            "unit": v.unit,
            "method": v.method,
            "source_field": v.source_field,
            "conditions": v.conditions,
            "reference": v.reference,
        }
        for entry_id, r in pairs
        for v in r.values
    ]
    if values:
        _copy(session, PropertyValue.__tablename__, values)


def _next_ids(session: Session, table: str, n: int) -> list[int]:
    """``n`` fresh ids from ``table``'s id sequence, so rows can be written by COPY (no RETURNING)."""
    return list(
        session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table, "n": n},
        ).scalars()
    )


def _copy(session: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` with COPY on the session's connection (so inside its transaction).

    Ingest writes thousands of rows a second; a multi-row INSERT spent more time being built
    and parsed than PostgreSQL spent storing it. Array columns go as PostgreSQL array
    literals, which ``_array_literal`` writes far faster than the driver adapts nested lists.
    """
    columns = list(rows[0])
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_copy_text(v) for v in row.values()])


def _copy_text(value: Any) -> Any:
    """``value`` as COPY takes it: arrays as array literals, mappings as JSON, the rest as is."""
    if isinstance(value, list | np.ndarray):
        return _array_literal(value)
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return value


def _array_literal(values: list[Any] | np.ndarray) -> str:
    """A PostgreSQL array literal (``{{1.0,2.0},{3.0,4.0}}``, ``{"Mo","S"}``) of numbers or plain strings."""
    return orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY).decode().replace("[", "{").replace("]", "}")


def _text_array_literal(values: Sequence[str]) -> str:
    """A PostgreSQL text array literal of any strings (``_array_literal`` is for symbols and numbers:
    a source's species name may hold brackets, quotes, backslashes or newlines)."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def structure_row(entry_id: int, record: Record) -> dict[str, Any]:
    """The ``structure`` row of a record's harmonized layer, with OPTIMADE fields."""
    layer = record.layer
    assert layer is not None
    counts = layer.counts()
    total = sum(counts.values())
    elements = sorted(counts)
    return {
        "entry_id": entry_id,
        "lattice_vectors": layer.lattice,
        "cartesian_site_positions": layer.positions,
        "species_at_sites": list(layer.species),
        "site_names": None if record.site_names is None else _text_array_literal(record.site_names),
        "species": None if record.species is None else orjson.dumps(record.species).decode(),
        "nsites": len(layer.species),
        "elements": elements,
        "elements_ratios": [counts[el] / total for el in elements],
        "nelements": len(elements),
        "chemical_formula_reduced": reduced_formula(counts),
        "chemical_formula_anonymous": anonymous_formula(counts),
        "chemical_formula_descriptive": "".join(f"{el}{int(n) if n != 1 else ''}" for el, n in counts.items()),
        "dimension_types": [1, 1, 0],
        "nperiodic_dimensions": 2,
        "thickness": layer.thickness,
        "vacuum": layer.vacuum,
        "area": layer.area,
    }


def _materials_for(session: Session, source_id: int, records: list[Record]) -> list[tuple[int, str | None]]:
    """A material for each new record, and for a record without a structure the note of how it got it.

    A computed record (with a structure) starts as its own material; dedup merges later. A
    record without a structure joins a material only by ``atlas2d.ingest.linking.RULE``, and
    otherwise gets its own, with the reason.
    """
    links = link_new(session, records, source_id)
    result: list[tuple[int, str | None]] = []
    new: list[tuple[int, str]] = []
    for i, (record, link) in enumerate(zip(records, links, strict=True)):
        if record.layer is not None or link.material_id is None:
            new.append((i, record.chemical_formula_reduced))
        result.append((link.material_id or 0, link.note or None))
    if new:
        ids = _next_ids(session, Material.__tablename__, len(new))
        _copy(session, Material.__tablename__, [{"id": m, "chemical_formula_reduced": f} for m, (_, f) in zip(ids, new, strict=True)])
        for material_id, (i, _) in zip(ids, new, strict=True):
            result[i] = (material_id, result[i][1])
    return result
