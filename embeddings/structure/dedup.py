"""Deduplication of entries into materials by 2D isometry invariants, and structure search.

The same monolayer arrives from C2DB, 2DMatPedia and MC2D in other cells, atom orders,
frames, vacuum and relaxation noise. Comparing every pair with a structure matcher is
quadratic and slow, so dedup works in three cheap steps:

1. every structure gets its invariants once (``atlas2d.embeddings.structure.invariants``; the AMD in the
   pgvector column ``structure.amd``, the PDD in ``structure.pdd``);
2. candidate pairs are the nearest neighbours of each AMD in PostgreSQL (pgvector
   ``<->``), among structures of the same reduced formula (the composition rule);
3. a candidate is confirmed when the Earth Mover's distance between the two PDDs is at
   most the tolerance; confirmed pairs are joined by union-find into clusters.

A curator's ``cluster_override`` rows win: ``join`` pairs are merged first whatever their
distance, and no union may put the two entries of a ``split`` pair into one cluster. Each
union is written to ``merge_evidence`` with its distance and rule, so that ``explain`` can
say why two entries share a material. Every run recomputes the clusters from the stored
invariants (which are cached), so a re-run after an override or a tolerance change is exact.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
from sqlalchemy import ColumnElement, cast, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY, REAL
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex, DropIndex

from atlas2d.embeddings.structure.invariants import (
    INVARIANTS_VERSION,
    K_PER_ELEMENT,
    PDD,
    Invariants,
    emd_lower_bound,
    invariants_of_cells,
    pdd_distance,
    pdd_distances,
)
from atlas2d.schema.fetch import binary_results, fetched
from atlas2d.schema.models import (
    ClusterOverride,
    Entry,
    Material,
    MergeEvidence,
    Source,
    Structure,
)

DEFAULT_TOLERANCE = 0.2
"""Å. PDD EMD at or below which two structures of one formula are the same material.

Measured on the labelled set (tests/dedup_labelled.py, poscar2d + MC2D): true duplicates
(supercells, permutations, rotations, vacuum, 0.01-0.05 Å noise, <0.5 % strain, all at once)
reach at most 0.14 Å; the closest true non-duplicates (MC2D's GaS polymorphs, bilayer
stackings, swapped sites) start at 0.41 Å. 0.2 Å sits between them, about a factor 2 from each.
"""

BOUND_SLACK = 1e-3
"""Å. Margin on the AMD lower bound of the EMD for float32 storage and for PDD rows merged
within the invariants' collapse tolerance (1e-4 Å), so the bound never skips a pair the EMD
would merge."""

CANDIDATE_NEIGHBOURS = 10
"""AMD nearest neighbours per structure considered as candidate duplicates."""

INVARIANT_BATCH = 1024
"""Structures whose invariants are computed (and committed) together. Measured on the dedup
benchmark's 2,000 structures: 256 took 0.3 s longer than 1024 (a read, a COPY, an UPDATE
and a commit per batch; a compiled batch spreads better over the cores), 2048 no faster."""

BULK_REINDEX = 500
"""Structures to compute at or above which the HNSW index on ``structure.amd`` is dropped
and built again once at the end. Measured: keeping the index up to date costs about 1.3 ms
per updated row, building it for 2,000 vectors about 0.5 s (pgvector advises the same:
build the index after loading)."""

JOIN_RULE = "override:join"
SPLIT_ACTION, JOIN_ACTION = "split", "join"


def emd_rule(tolerance: float) -> str:
    """The ``merge_evidence.rule`` text of a merge confirmed by the invariants."""
    return f"same reduced formula; PDD EMD <= {tolerance:g} Å"


@dataclass
class DedupSummary:
    """What one dedup run found and did."""

    structures: int = 0
    computed: int = 0
    candidates: int = 0
    confirmed: int = 0
    merges: int = 0
    refused_by_split: int = 0
    materials: int = 0
    duplicate_clusters: int = 0
    cross_source_clusters: int = 0


@dataclass
class Neighbour:
    """A material near a query structure, through one of its entries."""

    material_id: int | None
    entry_id: int
    source: str
    source_key: str
    formula: str
    distance: float


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


@dataclass
class ReportRow:
    """One material with several entries: the duplicates dedup found."""

    material_id: int
    formula: str
    sources: list[str]
    entries: list[tuple[int, str, str]]
    max_distance: float | None


class ConstrainedUnionFind:
    """Union-find over entry ids that refuses unions joining the two ends of a split pair."""

    def __init__(self, items: Iterable[int], splits: Iterable[tuple[int, int]]) -> None:
        self.parent = {i: i for i in items}
        self.members = {i: [i] for i in self.parent}
        self.cannot: dict[int, set[int]] = {}
        for a, b in splits:
            self.cannot.setdefault(a, set()).add(b)
            self.cannot.setdefault(b, set()).add(a)

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> bool | None:
        """Merge the clusters of a and b: True if merged, None if already one, False if a split forbids it."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        small, large = sorted((ra, rb), key=lambda r: len(self.members[r]))
        for member in self.members[small]:
            if any(self.find(other) == large for other in self.cannot.get(member, ())):
                return False
        self.parent[small] = large
        self.members[large].extend(self.members.pop(small))
        return True

    def clusters(self) -> list[list[int]]:
        """Clusters as sorted lists of entry ids, ordered by their smallest id."""
        return sorted((sorted(m) for m in self.members.values()), key=lambda m: m[0])


_AMD_INDEX = next(index for index in Structure.__table__.indexes if index.name == "ix_structure_amd_hnsw")
"""The HNSW index on ``structure.amd`` as the model declares it (created if missing, e.g.
after a bulk run that was interrupted between dropping and building it)."""


def _stale() -> ColumnElement[bool]:
    """Structures without current invariants: none yet, or computed by another definition."""
    return Structure.invariants_version.is_distinct_from(INVARIANTS_VERSION) | Structure.amd.is_(None)


def compute_missing_invariants(
    session: Session,
    device: str = "auto",
    batch_size: int = INVARIANT_BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Compute AMD and PDD for structures without current invariants; commit per batch.

    A structure counts as missing when its ``invariants_version`` differs from this code's,
    so changing the invariant definition recomputes everything once. One batch's invariants
    are computed in a worker thread (compiled code that releases the GIL) while this thread
    reads the next batch and writes the one before: PostgreSQL and the kernels then work at
    the same time, which took 5-20 % off the benchmark's first dedup on two cores.
    """
    ids = session.execute(select(Structure.entry_id).where(_stale()).order_by(Structure.entry_id)).scalars().all()
    if len(ids) >= BULK_REINDEX:
        session.execute(DropIndex(_AMD_INDEX, if_exists=True))
        session.commit()
    with ThreadPoolExecutor(max_workers=1) as worker:
        pending: tuple[Sequence[int], Future[list[Invariants]]] | None = None
        for start in range(0, len(ids) + batch_size, batch_size):
            chunk = ids[start : start + batch_size]
            computing = None
            if chunk:
                entry_ids, cells = _read_cells(session, chunk)
                computing = (entry_ids, worker.submit(invariants_of_cells, *cells, device=device))
            if pending is not None:
                _write_invariants(session, pending[0], pending[1].result())
                session.commit()
                if on_batch is not None:
                    on_batch(len(pending[0]))
            pending = computing
    session.execute(CreateIndex(_AMD_INDEX, if_not_exists=True))
    session.commit()
    return len(ids)


def _read_cells(session: Session, entry_ids: Sequence[int]) -> tuple[Sequence[int], tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]]:
    """Stored cells packed as ``invariants_of_cells`` takes them (lattices, positions, offsets, species), and their entry ids."""
    with binary_results(session):
        rows = session.execute(
            select(
                Structure.entry_id,
                func.array_send(Structure.lattice_vectors),
                func.array_send(Structure.cartesian_site_positions),
                fetched(Structure.species_at_sites),
            ).where(Structure.entry_id.in_(entry_ids))
        ).all()
    found, lattices, positions, species = zip(*rows, strict=True)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in species], out=offsets[1:])
    cells = (_float_items(lattices).reshape(-1, 3, 3), _float_items(positions).reshape(-1, 3), offsets, list(chain.from_iterable(species)))
    return found, cells


_ARRAY_ITEM = np.dtype([("length", ">i4"), ("value", ">f8")])
"""One item of a float8[] in PostgreSQL's binary form: its byte length, then its value."""

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
"""The signature, flags and header extension length that open a binary COPY stream."""


def _float_items(blobs: Sequence[bytes]) -> np.ndarray:
    """The items of float8[] values sent in binary (``array_send``), all arrays one after the other, flat.

    psycopg turns a binary float array into nested lists of Python floats, which took longer
    than computing the invariants; here the arrays' headers are cut out of the joined bytes
    and the rest read as (length, big-endian value) pairs. All arrays must have the same
    number of dimensions and no NULL items (so every header has the same size).
    """
    joined = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
    heads = (np.cumsum(lengths) - lengths)[:, None] + np.arange(12 + 8 * int.from_bytes(blobs[0][:4], "big"))
    if np.any(joined[heads[:, :4]] != joined[heads[0, :4]]) or joined[heads[:, 4:8]].any():
        raise ValueError("stored float arrays differ in dimensions or hold NULL items")
    keep = np.ones(len(joined), dtype=bool)
    keep[heads] = False
    return joined[keep].view(_ARRAY_ITEM)["value"].astype(float)


def _write_invariants(session: Session, entry_ids: Sequence[int], found: Sequence[Invariants]) -> None:
    """Store AMDs, PDDs and the invariants version: one binary COPY into a temporary table, one UPDATE.

    An executemany UPDATE formatted each AMD as pgvector text and ran one statement per
    structure; the binary stream carries each AMD as pgvector's binary form (dimension,
    unused, big-endian float4s) and each PDD as its bytes.
    """
    amds = np.stack([inv.amd for inv in found]).astype(">f4")
    vector_head = struct.pack("!ihh", 4 + 4 * amds.shape[1], amds.shape[1], 0)
    parts = [_COPY_HEADER]
    for entry_id, amd, inv in zip(entry_ids, amds, found, strict=True):
        pdd = inv.pdd.to_bytes()
        parts += [struct.pack("!hiq", 3, 8, entry_id), vector_head, amd.tobytes(), struct.pack("!i", len(pdd)), pdd]
    parts.append(struct.pack("!h", -1))
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS new_invariants (entry_id bigint, amd vector({amds.shape[1]}), pdd bytea)"
            " ON COMMIT DELETE ROWS"
        )
    )
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy("COPY new_invariants FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(b"".join(parts))
    session.execute(
        text(
            "UPDATE structure AS s SET amd = n.amd, pdd = n.pdd, invariants_version = :version"
            " FROM new_invariants AS n WHERE s.entry_id = n.entry_id"
        ),
        {"version": INVARIANTS_VERSION},
    )


def count_missing_invariants(session: Session) -> int:
    """How many structures ``compute_missing_invariants`` would compute."""
    return session.execute(select(func.count()).select_from(Structure).where(_stale())).scalar_one()


def candidate_pairs(session: Session, neighbours: int = CANDIDATE_NEIGHBOURS) -> list[tuple[int, int, float]]:
    """(a, b, AMD L2 distance) with a < b: each structure's nearest AMDs of the same formula."""
    _search_width(session, neighbours)
    rows = session.execute(
        text(
            """
            SELECT s.entry_id, n.entry_id, n.distance
            FROM structure s
            CROSS JOIN LATERAL (
                SELECT t.entry_id, t.amd <-> s.amd AS distance
                FROM structure t
                WHERE t.entry_id <> s.entry_id
                  AND t.chemical_formula_reduced = s.chemical_formula_reduced
                  AND t.amd IS NOT NULL
                ORDER BY t.amd <-> s.amd
                LIMIT :k
            ) n
            WHERE s.amd IS NOT NULL
            """
        ),
        {"k": neighbours},
    ).all()
    pairs: dict[tuple[int, int], float] = {}
    for a, b, distance in rows:
        pairs[(min(a, b), max(a, b))] = float(distance)
    return [(a, b, d) for (a, b), d in sorted(pairs.items())]


def emd_lower_bounds(session: Session, pairs: Sequence[tuple[int, int, float]]) -> np.ndarray:
    """For each candidate pair, ``invariants.emd_lower_bound`` of their stored AMDs (Å).

    Only the AMD prefix the bound uses is read, as a float array in binary: parsing whole
    vectors from their text form took most of this step's time.
    """
    if not pairs:
        return np.zeros(0)
    ids = sorted({i for a, b, _ in pairs for i in (a, b)})
    prefix = cast(func.subvector(Structure.amd, 1, K_PER_ELEMENT), ARRAY(REAL))
    with binary_results(session):
        rows = session.execute(select(Structure.entry_id, prefix).where(Structure.entry_id.in_(ids))).all()
    index = {entry_id: n for n, (entry_id, _) in enumerate(rows)}
    amds = np.array([amd for _, amd in rows], dtype=float)
    return emd_lower_bound(amds[[index[a] for a, _, _ in pairs]], amds[[index[b] for _, b, _ in pairs]])


def load_pdds(session: Session, entry_ids: Iterable[int]) -> dict[int, PDD]:
    """Stored PDDs by entry id."""
    ids = sorted(set(entry_ids))
    rows = session.execute(select(Structure.entry_id, Structure.pdd).where(Structure.entry_id.in_(ids))).all()
    return {entry_id: PDD.from_bytes(data) for entry_id, data in rows if data is not None}


def run_dedup(
    session: Session,
    tolerance: float = DEFAULT_TOLERANCE,
    neighbours: int = CANDIDATE_NEIGHBOURS,
    device: str = "auto",
    on_batch: Callable[[int], None] | None = None,
) -> DedupSummary:
    """Compute missing invariants, cluster all structures, assign materials, record evidence."""
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be a non-negative number of Å, not {tolerance}")
    if neighbours < 1:
        raise ValueError(f"neighbours must be at least 1, not {neighbours}")
    summary = DedupSummary()
    summary.computed = compute_missing_invariants(session, device=device, on_batch=on_batch)
    entries = session.execute(select(Structure.entry_id).order_by(Structure.entry_id)).scalars().all()
    summary.structures = len(entries)
    candidates = candidate_pairs(session, neighbours)
    summary.candidates = len(candidates)
    bounds = emd_lower_bounds(session, candidates)
    plausible = [pair for pair, bound in zip(candidates, bounds, strict=True) if bound <= tolerance + BOUND_SLACK]
    pdds = load_pdds(session, (i for a, b, _ in plausible for i in (a, b)))
    index = {entry_id: n for n, entry_id in enumerate(pdds)}
    distances = pdd_distances(list(pdds.values()), [(index[a], index[b]) for a, b, _ in plausible])
    confirmed = [(float(d), a, b) for (a, b, _), d in zip(plausible, distances, strict=True) if d <= tolerance]
    summary.confirmed = len(confirmed)
    overrides = session.execute(select(ClusterOverride.entry_a_id, ClusterOverride.entry_b_id, ClusterOverride.action)).all()
    structured = set(entries)
    splits = [(a, b) for a, b, action in overrides if action == SPLIT_ACTION]
    forest = ConstrainedUnionFind(entries, splits)
    evidence: list[dict[str, object]] = []
    for a, b, action in overrides:
        if action == JOIN_ACTION and a in structured and b in structured and forest.union(a, b):
            evidence.append({"entry_a_id": a, "entry_b_id": b, "distance": None, "rule": JOIN_RULE})
    rule = emd_rule(tolerance)
    for distance, a, b in sorted(confirmed):
        merged = forest.union(a, b)
        if merged:
            evidence.append({"entry_a_id": a, "entry_b_id": b, "distance": distance, "rule": rule})
        elif merged is False:
            summary.refused_by_split += 1
    summary.merges = len(evidence)
    clusters = forest.clusters()
    _assign_materials(session, clusters)
    session.execute(delete(MergeEvidence))
    if evidence:
        session.execute(
            text(
                "INSERT INTO merge_evidence (entry_a_id, entry_b_id, distance, rule)"
                " SELECT * FROM unnest(CAST(:a AS bigint[]), CAST(:b AS bigint[]),"
                " CAST(:distance AS double precision[]), CAST(:rule AS text[]))"
            ),
            {
                "a": [row["entry_a_id"] for row in evidence],
                "b": [row["entry_b_id"] for row in evidence],
                "distance": [row["distance"] for row in evidence],
                "rule": [row["rule"] for row in evidence],
            },
        )
    session.commit()
    summary.materials = len(clusters)
    summary.duplicate_clusters = sum(1 for c in clusters if len(c) > 1)
    summary.cross_source_clusters = len(report(session))
    return summary


def _assign_materials(session: Session, clusters: list[list[int]]) -> None:
    """Give each cluster one material, keeping existing material ids where possible.

    A cluster keeps the material most of its entries already have (so ids stay stable over
    re-runs); a material is used by one cluster only; clusters left without one get a new
    material. Materials left without any entry are deleted. Entries without a structure
    (experimental values) keep the material ingest gave them.
    """
    current = dict(session.execute(select(Entry.id, Entry.material_id).join(Structure)).all())
    formulas = dict(session.execute(select(Structure.entry_id, Structure.chemical_formula_reduced)).all())
    claimed: set[int] = set()
    targets: list[int | None] = []
    for cluster in sorted(clusters, key=len, reverse=True):
        votes = Counter(current[e] for e in cluster if current[e] is not None and current[e] not in claimed)
        choice = min(votes, key=lambda m: (-votes[m], m)) if votes else None
        if choice is not None:
            claimed.add(choice)
        targets.append(choice)
    ordered = sorted(clusters, key=len, reverse=True)
    missing = [c for c, t in zip(ordered, targets, strict=True) if t is None]
    if missing:
        new_ids = iter(
            session.execute(
                insert(Material).returning(Material.id, sort_by_parameter_order=True),
                [{"chemical_formula_reduced": formulas[c[0]]} for c in missing],
            ).scalars().all()
        )
        targets = [t if t is not None else next(new_ids) for t in targets]
    changes = [
        {"id": e, "material_id": material}
        for cluster, material in zip(ordered, targets, strict=True)
        for e in cluster
        if current[e] != material
    ]
    if changes:
        session.execute(
            text(
                "UPDATE entry SET material_id = c.material_id"
                " FROM unnest(CAST(:ids AS bigint[]), CAST(:materials AS bigint[])) AS c(id, material_id)"
                " WHERE entry.id = c.id"
            ),
            {"ids": [c["id"] for c in changes], "materials": [c["material_id"] for c in changes]},
        )
    session.execute(
        delete(Material).where(~select(Entry.id).where(Entry.material_id == Material.id).exists())
    )


def set_override(session: Session, entry_a: int, entry_b: int, action: str, note: str | None = None) -> None:
    """Record that two entries must (join) or must not (split) share a material; replaces an earlier decision."""
    if action not in (SPLIT_ACTION, JOIN_ACTION):
        raise ValueError(f"unknown override {action!r}: use split or join")
    if entry_a == entry_b:
        raise ValueError("an override needs two different entries")
    found = set(session.execute(select(Entry.id).where(Entry.id.in_([entry_a, entry_b]))).scalars())
    missing = sorted({entry_a, entry_b} - found)
    if missing:
        raise LookupError(f"no entry with id {missing[0]}")
    a, b = sorted((entry_a, entry_b))
    session.execute(delete(ClusterOverride).where(ClusterOverride.entry_a_id == a, ClusterOverride.entry_b_id == b))
    session.execute(insert(ClusterOverride).values(entry_a_id=a, entry_b_id=b, action=action, note=note))
    session.commit()


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
    """Materials with more than one entry from more than one source (or any, with the flag)."""
    rows = session.execute(
        select(Entry.material_id, Entry.id, Source.name, Entry.source_key, Entry.chemical_formula_reduced)
        .join(Source)
        .join(Structure, Structure.entry_id == Entry.id)
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


def similar_by_structure(session: Session, ref: int, k: int = 10, by_material: bool = False) -> list[Neighbour]:
    """The ``k`` materials nearest to an entry (or to a material, with ``by_material``) by AMD.

    The query is plain pgvector SQL, ``ORDER BY amd <-> :query``, which the HNSW index on
    ``structure.amd`` serves; the nearest entry of each other material stands for it. Another search (band-structure
    fingerprints) can sit beside this one with the same signature and result type.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    query = select(Structure.amd, Entry.material_id).join(Entry, Entry.id == Structure.entry_id)
    if by_material:
        query = query.where(Entry.material_id == ref, Structure.amd.is_not(None)).order_by(Entry.id).limit(1)
    else:
        query = query.where(Structure.entry_id == ref)
    found = session.execute(query).one_or_none()
    if found is None:
        raise LookupError(f"no {'material' if by_material else 'entry'} {ref} with a structure")
    vector, own_material = found
    if vector is None:
        raise LookupError(f"entry {ref} has no invariants yet: run 'atlas2d dedup' first")
    limit = 4 * k
    _search_width(session, limit)
    while True:
        rows = session.execute(
            select(
                Entry.material_id,
                Entry.id,
                Source.name,
                Entry.source_key,
                Structure.chemical_formula_reduced,
                amd_distance(vector),
            )
            .join(Entry, Entry.id == Structure.entry_id)
            .join(Source)
            .where(Structure.amd.is_not(None), Entry.material_id.is_distinct_from(own_material))
            .order_by(amd_distance(vector))
            .limit(limit)
        ).all()
        result: dict[int | None, Neighbour] = {}
        for material, entry, source, key, formula, distance in rows:
            group = material if material is not None else -entry
            if group not in result:
                result[group] = Neighbour(material, entry, source, key, formula, float(distance))
        if len(result) >= k or len(rows) < limit:
            return list(result.values())[:k]
        limit *= 4


def amd_distance(vector: Sequence[float]) -> ColumnElement[float]:
    """SQL for the Euclidean distance (Å) of ``structure.amd`` to ``vector``: ``amd <-> vector``."""
    return Structure.amd.l2_distance(list(map(float, vector)))


def _search_width(session: Session, width: int) -> None:
    """Make the HNSW scans of this transaction return ``width`` rows that pass the filters.

    Without iterative scans an HNSW index returns its ``ef_search`` nearest rows and only
    then applies the WHERE clause (same formula, other material), which can leave fewer
    than ``width`` rows; ``strict_order`` keeps scanning, in distance order.
    """
    session.execute(text(f"SET LOCAL hnsw.ef_search = {max(40, min(1000, 2 * width))}"))
    session.execute(text("SET LOCAL hnsw.iterative_scan = strict_order"))
