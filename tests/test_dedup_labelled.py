"""Precision and recall of ``atlas2d dedup`` on >= 1,000 labelled pairs built from real monolayers."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.embeddings.structure.dedup import run_dedup
from atlas2d.schema.models import Entry
from atlas2d.testdata.labelled import build
from atlas2d.testdata.poscar import seed_store, structure_record

BASES = 60
"""poscar2d monolayers the set is built from (17 pairs each, plus MC2D's polymorph pairs)."""


def test_dedup_precision_and_recall_through_the_store(session: Session) -> None:
    data = build(BASES)
    labels = Counter(duplicate for _, _, duplicate, _ in data.pairs)
    assert len(data.pairs) >= 1000 and labels[True] >= 300 and labels[False] >= 300
    seed_store(session, [structure_record(key, structure) for key, structure in data.structures.items()])

    summary = run_dedup(session)

    assert summary.structures == len(data.structures)
    material = dict(session.execute(select(Entry.source_key, Entry.material_id)).all())
    outcome: Counter[tuple[str, str]] = Counter()
    for a, b, duplicate, kind in data.pairs:
        merged = material[a] == material[b]
        verdict = {(True, True): "tp", (False, True): "fp", (True, False): "fn", (False, False): "tn"}[(duplicate, merged)]
        outcome[(verdict, kind)] += 1
    totals = Counter()
    for (verdict, _), n in outcome.items():
        totals[verdict] += n
    precision = totals["tp"] / (totals["tp"] + totals["fp"])
    recall = totals["tp"] / (totals["tp"] + totals["fn"])
    errors = {key: n for key, n in outcome.items() if key[0] in {"fp", "fn"}}
    assert precision >= 0.99, (precision, errors)
    assert recall >= 0.99, (recall, errors)
    assert {kind for (_, kind) in outcome} >= {
        "supercell2x1", "supercell3x3", "permuted", "rotated", "noisy", "strained", "all", "vacuum",
        "stacking", "substitution", "swap", "polymorph",
    }
