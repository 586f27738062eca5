"""From confirmed pairs and curator overrides to clusters of entries, and clusters to materials.

Confirmed pairs are joined by union-find, nearest first, after the ``join`` overrides; a
union that would put the two ends of a ``split`` override into one cluster is refused. Each
union is kept as merge evidence (the pair, its distance and the rule), so that ``explain``
can say why two entries share a material. Every run recomputes the clusters from scratch
and then maps them onto materials, keeping the material ids that still fit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, any_, bindparam, delete, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from atlas2d.embeddings.structure.overrides import JOIN_ACTION, JOIN_RULE, SPLIT_ACTION
from atlas2d.schema.models import Entry, Material, MergeEvidence, Structure


def emd_rule(tolerance: float) -> str:
    """The ``merge_evidence.rule`` text of a merge confirmed by the invariants."""
    return f"same reduced formula; PDD EMD <= {tolerance:g} Å"


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


@dataclass
class Clustering:
    """Clusters of entry ids, the ``merge_evidence`` rows of their unions, and the unions splits refused."""

    clusters: list[list[int]]
    evidence: list[dict[str, object]]
    refused_by_split: int
    refused: list[tuple[int, int]]
    """The confirmed pairs whose union a split refused, (a, b) as in ``confirmed``."""


def cluster(
    entries: Sequence[int],
    confirmed: Sequence[tuple[float, int, int]],
    overrides: Sequence[tuple[int, int, str]],
    tolerance: float,
) -> Clustering:
    """Join ``join`` overrides, then confirmed (distance, a, b) pairs nearest first, never across a split."""
    structured = set(entries)
    forest = ConstrainedUnionFind(entries, [(a, b) for a, b, action in overrides if action == SPLIT_ACTION])
    evidence: list[dict[str, object]] = []
    for a, b, action in overrides:
        if action == JOIN_ACTION and a in structured and b in structured and forest.union(a, b):
            evidence.append({"entry_a_id": a, "entry_b_id": b, "distance": None, "rule": JOIN_RULE})
    rule = emd_rule(tolerance)
    refused: list[tuple[int, int]] = []
    for distance, a, b in sorted(confirmed):
        merged = forest.union(a, b)
        if merged:
            evidence.append({"entry_a_id": a, "entry_b_id": b, "distance": distance, "rule": rule})
        elif merged is False:
            refused.append((a, b))
    return Clustering(forest.clusters(), evidence, len(refused), refused)


def assign_materials(session: Session, clusters: list[list[int]], partial: bool = False) -> None:
    """Give each cluster one material, keeping existing material ids where possible.

    A cluster keeps the material most of its entries already have (so ids stay stable over
    re-runs); a material is used by one cluster only; clusters left without one get a new
    material. Materials left without any entry are deleted. Entries without a structure
    (experimental values) keep the material ingest gave them.

    ``partial``: the clusters are only some of the structures' (an incremental run's
    connected part), and no entry outside them shares a material with one inside; only
    their entries are read and only the materials they had may be left empty.
    """
    members = [e for c in clusters for e in c]
    read = select(Entry.id, Entry.material_id).join(Structure)
    shape = select(Structure.entry_id, Structure.chemical_formula_reduced)
    if partial:
        read = read.where(Entry.id == any_(bindparam("ids", members, type_=ARRAY(Integer))))
        shape = shape.where(Structure.entry_id == any_(bindparam("ids", members, type_=ARRAY(Integer))))
    current = dict(session.execute(read).all())
    formulas = dict(session.execute(shape).all())
    claimed: set[int] = set()
    targets: list[int | None] = []
    for members in sorted(clusters, key=len, reverse=True):
        votes = Counter(current[e] for e in members if current[e] is not None and current[e] not in claimed)
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
        for members, material in zip(ordered, targets, strict=True)
        for e in members
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
    empty = ~select(Entry.id).where(Entry.material_id == Material.id).exists()
    if partial:
        held = sorted({m for m in current.values() if m is not None})
        empty = empty & (Material.id == any_(bindparam("held", held, type_=ARRAY(Integer))))
    session.execute(delete(Material).where(empty))


def write_evidence(session: Session, evidence: Sequence[dict[str, object]], among: Sequence[int] | None = None) -> None:
    """Replace ``merge_evidence`` with ``evidence`` (one ``Clustering.evidence``), by one ``unnest`` INSERT.

    An executemany INSERT ran one statement per union; the four columns sent as arrays take one.
    With ``among`` (an incremental run's entries), only the evidence of those entries is replaced.
    """
    if among is None:
        session.execute(delete(MergeEvidence))
    else:
        ids = bindparam("ids", list(among), type_=ARRAY(Integer))
        session.execute(delete(MergeEvidence).where((MergeEvidence.entry_a_id == any_(ids)) | (MergeEvidence.entry_b_id == any_(ids))))
    if not evidence:
        return
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
