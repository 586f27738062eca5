"""Why dedup did what it did: ``explain`` one entry's material, ``report`` the duplicates found.

Both only read the store (the materials, ``merge_evidence``, ``cluster_override`` and the
stored invariants); neither changes a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atlas2d.embeddings.structure.amd_index import amd_distance
from atlas2d.embeddings.structure.candidates import DEFAULT_TOLERANCE
from atlas2d.embeddings.structure.invariants import PDD, pdd_distance
from atlas2d.schema.models import ClusterOverride, Entry, MergeEvidence, Source, Structure


@dataclass
class Candidate:
    """A structure near an explained entry, and what dedup made of it."""

    entry_id: int
    source: str
    source_key: str
    formula: str
    amd_distance: float
    pdd_distance: float | None
    merged: bool
    reason: str


@dataclass
class Explanation:
    """Why an entry is in its material: members, merge evidence, overrides, near misses."""

    entry_id: int
    material_id: int | None
    members: list[tuple[int, str, str, str]] = field(default_factory=list)
    evidence: list[tuple[int, int, float | None, str]] = field(default_factory=list)
    overrides: list[tuple[int, int, str, str | None]] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    links: list[tuple[int, str, str, str]] = field(default_factory=list)
    """Members without a structure: (entry, source, source key, how ``atlas2d.ingest.linking`` gave them the material)."""


@dataclass
class ReportRow:
    """One material with several entries: the duplicates dedup found."""

    material_id: int
    formula: str
    sources: list[str]
    entries: list[tuple[int, str, str]]
    max_distance: float | None


def explain(session: Session, entry_id: int, neighbours: int = 5, tolerance: float = DEFAULT_TOLERANCE) -> Explanation:
    """Why ``entry_id`` is in its material, and why its nearest structures are or are not."""
    material_id = session.execute(select(Entry.material_id).where(Entry.id == entry_id)).scalar_one_or_none()
    if material_id is None and session.get(Entry, entry_id) is None:
        raise LookupError(f"no entry with id {entry_id}")
    result = Explanation(entry_id=entry_id, material_id=material_id)
    members = session.execute(
        select(Entry.id, Source.name, Entry.source_key, Entry.chemical_formula_reduced)
        .join(Source)
        .where(Entry.material_id == material_id)
        .order_by(Entry.id)
    ) if material_id is not None else []
    result.members = [tuple(m) for m in members]
    ids = [m[0] for m in result.members] or [entry_id]
    result.links = [
        tuple(row)
        for row in session.execute(
            select(Entry.id, Source.name, Entry.source_key, Entry.material_link)
            .join(Source)
            .where(Entry.id.in_(ids), Entry.material_link.is_not(None))
            .order_by(Entry.id)
        )
    ]
    result.evidence = [
        tuple(row)
        for row in session.execute(
            select(MergeEvidence.entry_a_id, MergeEvidence.entry_b_id, MergeEvidence.distance, MergeEvidence.rule)
            .where(MergeEvidence.entry_a_id.in_(ids) | MergeEvidence.entry_b_id.in_(ids))
            .order_by(MergeEvidence.id)
        )
    ]
    result.overrides = [
        tuple(row)
        for row in session.execute(
            select(ClusterOverride.entry_a_id, ClusterOverride.entry_b_id, ClusterOverride.action, ClusterOverride.note)
            .where((ClusterOverride.entry_a_id == entry_id) | (ClusterOverride.entry_b_id == entry_id))
        )
    ]
    result.candidates = _near_candidates(session, entry_id, material_id, neighbours, tolerance, result.overrides)
    return result


def _near_candidates(
    session: Session,
    entry_id: int,
    material_id: int | None,
    neighbours: int,
    tolerance: float,
    overrides: list[tuple[int, int, str, str | None]],
) -> list[Candidate]:
    """The nearest AMDs of any formula, with the PDD distance and the verdict for each."""
    own = session.execute(
        select(Structure.amd, Structure.pdd, Structure.chemical_formula_reduced).where(Structure.entry_id == entry_id)
    ).one_or_none()
    if own is None or own.amd is None:
        return []
    rows = session.execute(
        select(
            Structure.entry_id,
            Source.name,
            Entry.source_key,
            Structure.chemical_formula_reduced,
            Entry.material_id,
            Structure.pdd,
            amd_distance(own.amd),
        )
        .join(Entry, Entry.id == Structure.entry_id)
        .join(Source)
        .where(Structure.entry_id != entry_id, Structure.amd.is_not(None))
        .order_by(amd_distance(own.amd))
        .limit(neighbours)
    ).all()
    decided = {(a if b == entry_id else b): action for a, b, action, _ in overrides}
    mine = PDD.from_bytes(own.pdd)
    found = []
    for other, source, key, formula, other_material, data, amd_gap in rows:
        distance = pdd_distance(mine, PDD.from_bytes(data)) if data is not None else None
        merged = material_id is not None and other_material == material_id
        if other in decided:
            reason = f"curator override: {decided[other]}"
        elif formula != own.chemical_formula_reduced:
            reason = "different reduced formula"
        elif distance is not None and distance <= tolerance:
            reason = "PDD EMD within tolerance" if merged else "within tolerance, kept apart by a split elsewhere"
        else:
            reason = "merged through other entries" if merged else "PDD EMD above tolerance"
        found.append(Candidate(other, source, key, formula, float(amd_gap), distance, merged, reason))
    return found


def report(session: Session, include_same_source: bool = False) -> list[ReportRow]:
    """Materials with more than one entry from more than one source (or any, with the flag).

    Entries without a structure count too: they are in a material by the linking rule
    (``atlas2d.ingest.linking``), which ``explain`` shows.
    """
    rows = session.execute(
        select(Entry.material_id, Entry.id, Source.name, Entry.source_key, Entry.chemical_formula_reduced)
        .join(Source)
        .where(Entry.material_id.is_not(None))
        .order_by(Entry.material_id, Entry.id)
    ).all()
    by_material: dict[int, list[tuple[int, str, str, str]]] = {}
    for material, entry, source, key, formula in rows:
        by_material.setdefault(material, []).append((entry, source, key, formula))
    distances: dict[int, float] = {}
    for a, distance in session.execute(select(MergeEvidence.entry_a_id, MergeEvidence.distance)):
        if distance is not None:
            distances[a] = max(distances.get(a, 0.0), distance)
    result = []
    for material, members in by_material.items():
        sources = sorted({m[1] for m in members})
        if len(members) < 2 or (len(sources) < 2 and not include_same_source):
            continue
        spread = [distances[m[0]] for m in members if m[0] in distances]
        result.append(
            ReportRow(
                material_id=material,
                formula=members[0][3],
                sources=sources,
                entries=[(m[0], m[1], m[2]) for m in members],
                max_distance=max(spread) if spread else None,
            )
        )
    return result


def duplicate_counts(session: Session) -> tuple[int, int, int]:
    """(materials with a structure, those with several structures, materials across sources as ``report`` lists them).

    One aggregate in PostgreSQL: the summary of a dedup run needs the counts, not the rows.
    """
    per_material = (
        select(
            func.count(Structure.entry_id).label("structured"),
            func.count().label("entries"),
            func.count(func.distinct(Entry.source_id)).label("sources"),
        )
        .select_from(Entry)
        .outerjoin(Structure, Structure.entry_id == Entry.id)
        .where(Entry.material_id.is_not(None))
        .group_by(Entry.material_id)
        .subquery()
    )
    counts = select(
        func.count().filter(per_material.c.structured > 0),
        func.count().filter(per_material.c.structured > 1),
        func.count().filter((per_material.c.entries > 1) & (per_material.c.sources > 1)),
    )
    materials, duplicates, across = session.execute(counts).one()
    return materials, duplicates, across
