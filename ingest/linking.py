"""Which material a record without a structure belongs to: one written rule, applied the same way everywhere.

A record without a structure (a C2DB web-table row, an MC2D campi-v2 entry, a measured
value) cannot be compared by geometry, so it joins a material only by ``RULE``:

    same reduced formula, same space-group number, and the same prototype where both the
    record and the material's entry have one in the same source's scheme (prototype names
    are only comparable within one source), and exactly one material matches.

Only materials with a structured entry are candidates, since materials are what dedup makes
of structures. A record that gives no space group, matches no material or matches several
gets a material of its own; the reason is kept in ``entry.material_link`` beside the rule
text of a link, so ``atlas2d dedup --explain`` can say why. The rule runs at ingest (new
records) and again after every dedup (``relink``), because dedup merges structures from
several sources into one material and can turn an ambiguous match into a single one.

A structured record's space group is the one its source states, else the one spglib finds in
its structure (``SYMPREC``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
import spglib
from pymatgen.core import Element
from sqlalchemy import Integer, Text, any_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from atlas2d.ingest.records import Layer, Record
from atlas2d.schema.models import Entry, Material, Structure

RULE = "same reduced formula and space group (and prototype within one source's scheme); exactly one material matches"

LINKED = "linked"
"""The first word of ``entry.material_link`` when the rule linked the entry."""

OWN = "own material"
"""The first words of ``entry.material_link`` when the entry has a material of its own."""

SYMPREC = 0.1
"""Å; spglib's tolerance when a space group is found from a structure (C2DB uses the same)."""


@dataclass(frozen=True)
class Candidate:
    """A structured entry's linking keys and its material."""

    material_id: int
    space_group: int | None
    prototype: str | None
    source_id: int


@dataclass(frozen=True)
class Link:
    """The decision for one record: a material to join (``None``: its own) and the sentence that says why."""

    material_id: int | None
    note: str


@dataclass
class RelinkSummary:
    """What ``relink`` did to the entries without structures."""

    linked: int = 0
    own: int = 0
    moved: int = 0


def space_group_of(layer: Layer) -> int | None:
    """The space-group number spglib finds in a layer (``None`` when it finds none)."""
    lattice = np.asarray(layer.lattice, dtype=float)
    fractional = np.linalg.solve(lattice.T, np.asarray(layer.positions, dtype=float).T).T
    numbers = [Element(symbol).Z for symbol in layer.species]
    dataset = spglib.get_symmetry_dataset((lattice, fractional, numbers), symprec=SYMPREC)
    return int(dataset.number) if dataset is not None else None


def record_space_group(record: Record) -> int | None:
    """The space group a record is linked by: its source's, else its structure's."""
    if record.space_group is not None:
        return record.space_group
    return space_group_of(record.layer) if record.layer is not None else None


def candidates(session: Session, formulas: Iterable[str]) -> dict[str, list[Candidate]]:
    """Structured entries with a material, by reduced formula, for the formulas given."""
    wanted = sorted(set(formulas))
    found: dict[str, list[Candidate]] = {}
    if not wanted:
        return found
    rows = session.execute(
        select(Entry.chemical_formula_reduced, Entry.material_id, Entry.space_group, Entry.prototype, Entry.source_id)
        .join(Structure, Structure.entry_id == Entry.id)
        .where(Entry.chemical_formula_reduced.in_(wanted), Entry.material_id.is_not(None))
    )
    for formula, material_id, space_group, prototype, source_id in rows:
        found.setdefault(formula, []).append(Candidate(material_id, space_group, prototype, source_id))
    return found


def decide(formula: str, space_group: int | None, prototype: str | None, source_id: int, among: list[Candidate]) -> Link:
    """Apply ``RULE`` to one record against the structured entries of its formula."""
    if space_group is None:
        return Link(None, f"{OWN}: the record gives no space group, so the rule cannot link it")
    same = [c for c in among if c.space_group == space_group]
    compared = [c for c in same if prototype and c.prototype and c.source_id == source_id]
    matching = [c for c in same if c not in compared or c.prototype == prototype]
    keys = f"reduced formula {formula}, space group {space_group}" + (f", prototype {prototype}" if compared else "")
    materials = sorted({c.material_id for c in matching})
    if len(materials) == 1:
        return Link(materials[0], f"{LINKED}: {keys}; exactly one material matches")
    if not materials:
        return Link(None, f"{OWN}: no material with a structure has {keys}")
    return Link(None, f"{OWN}: {len(materials)} materials match {keys} (ambiguous, so not linked)")


def link_new(session: Session, records: list[Record], source_id: int) -> list[Link]:
    """The decision for each record without a structure among ``records`` (``None`` for the others)."""
    structureless = [r for r in records if r.layer is None]
    among = candidates(session, (r.chemical_formula_reduced for r in structureless))
    return [
        Link(None, "") if r.layer is not None
        else decide(r.chemical_formula_reduced, r.space_group, r.prototype, source_id, among.get(r.chemical_formula_reduced, []))
        for r in records
    ]


def relink(session: Session, formulas: Collection[str] | None = None) -> RelinkSummary:
    """Apply ``RULE`` again to every linked entry without a structure (after dedup changed the materials).

    An entry that now matches exactly one material joins it; one that does not keeps its
    own material, or gets a new one when its material is a structured one it no longer
    matches. Materials left without entries are deleted. With ``formulas``, only the entries
    of those reduced formulas (the only ones whose candidates an incremental dedup changed).
    """
    summary = RelinkSummary()
    query = (
        select(Entry.id, Entry.chemical_formula_reduced, Entry.space_group, Entry.prototype, Entry.source_id, Entry.material_id)
        .outerjoin(Structure, Structure.entry_id == Entry.id)
        .where(Structure.entry_id.is_(None), Entry.material_link.is_not(None))
        .order_by(Entry.id)
    )
    if formulas is not None:
        query = query.where(Entry.chemical_formula_reduced == any_(bindparam("formulas", sorted(formulas), type_=ARRAY(Text))))
    rows = session.execute(query).all()
    if not rows:
        return summary
    among = candidates(session, (r.chemical_formula_reduced for r in rows))
    counted = select(Entry.material_id, func.count()).where(Entry.material_id.is_not(None)).group_by(Entry.material_id)
    held = sorted({r.material_id for r in rows if r.material_id is not None})
    if formulas is not None:
        counted = counted.where(Entry.material_id == any_(bindparam("held", held, type_=ARRAY(Integer))))
    sizes = dict(session.execute(counted).all())
    changes: list[dict[str, object]] = []
    new_own: list[tuple[int, str, str]] = []
    for entry_id, formula, space_group, prototype, source_id, current in rows:
        link = decide(formula, space_group, prototype, source_id, among.get(formula, []))
        if link.material_id is not None:
            summary.linked += 1
            target = link.material_id
        else:
            summary.own += 1
            alone = current is not None and sizes.get(current) == 1
            if not alone:
                new_own.append((entry_id, formula, link.note))
                continue
            target = current
        if target != current:
            summary.moved += 1
            sizes[current] = sizes.get(current, 1) - 1
            sizes[target] = sizes.get(target, 0) + 1
        changes.append({"id": entry_id, "material_id": target, "material_link": link.note})
    if new_own:
        ids = session.execute(
            insert(Material).returning(Material.id, sort_by_parameter_order=True),
            [{"chemical_formula_reduced": formula} for _, formula, _ in new_own],
        ).scalars().all()
        summary.moved += len(new_own)
        changes += [{"id": e, "material_id": m, "material_link": note} for (e, _, note), m in zip(new_own, ids, strict=True)]
    if changes:
        session.execute(update(Entry), changes)
    empty = ~select(Entry.id).where(Entry.material_id == Material.id).exists()
    if formulas is not None:
        empty = empty & (Material.id == any_(bindparam("held", held, type_=ARRAY(Integer))))
    session.execute(delete(Material).where(empty))
    return summary
