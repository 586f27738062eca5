"""Benchmark: atlas2d dedup vs pymatgen StructureMatcher on the same structures; truth from the labelled set.

Speed. The set is real poscar2d monolayers (../shared/data/poscar2d) plus changed copies of
some of them that a matcher should group with their original: a 2x1 supercell, a rotated
frame with shuffled atoms, and 0.01-0.03 Å noise (the vacuum is left unchanged, which
StructureMatcher, a 3D matcher with ``scale=True``, would read as another volume). atlas2d
runs its full first dedup against a fresh embedded PostgreSQL store: computing and storing
the invariants, the kNN candidates in SQL, the PDD EMD checks, union-find, and writing
materials and evidence. Loading the store, importing torch and loading the compiled kernels
are not timed. The time is also given split: invariants are computed once per structure and
cached in the store, so a re-run pays only the second part. ``invariants_structures_per_s``
is the invariants alone (``invariants_of_cells`` on the packed cells, in memory, best of
three). StructureMatcher runs ``group_structures`` with its default tolerances on the same
structures, in the same process. Both run after ``gc.freeze()``, so that collecting the
benchmark's own objects is timed in neither.

Agreement is reported, not targeted: StructureMatcher at its default tolerances is not the
truth for layers (its site tolerance scales with a volume that includes the vacuum; see
tests/test_structurematcher_vacuum.py). Every same-formula pair grouped by one method and not
the other is listed with its PDD EMD and a reason (``reason``). The truth is the labelled set
(``atlas2d.testdata.labelled``: duplicates and non-duplicates built from real monolayers and
MC2D's polymorphs): precision and recall of both methods on it.

Usage: python -m benchmarks.dedup [--quick] [--n 2000] [--labelled-bases 60] [--json PATH]
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.embeddings.device import resolve_device
from atlas2d.embeddings.structure import refresh
from atlas2d.embeddings.structure.candidates import DEFAULT_TOLERANCE
from atlas2d.embeddings.structure.dedup import run_dedup
from atlas2d.embeddings.structure.invariants import invariants, invariants_of_cells, pdd_distance
from atlas2d.ingest.geometry import to_2d_convention
from atlas2d.schema.database import embedded_server, make_engine, start_embedded
from atlas2d.schema.migrate import upgrade
from atlas2d.schema.models import Entry
from atlas2d.testdata.bench import benchmark_parser, report
from atlas2d.testdata.labelled import build, noisy, permuted, rotated, supercell, with_vacuum
from atlas2d.testdata.poscar import poscar_structures, seed_store, structure_record

COPY_SHARE = 0.3
"""Part of the set that is changed copies of other members."""

CHANGES = ("supercell", "rotated", "noisy")
"""How each changed copy differs from its original (the last part of the copy's key)."""

THIN_VACUUM = 2.0
"""Å. The vacuum both structures of a pair get to see whether StructureMatcher's verdict came from the vacuum."""


def structures(n: int, max_sites: int, seed: int = 1) -> list[tuple[str, Structure]]:
    """``n`` structures: real ones first, then changed copies of the first of them."""
    rng = np.random.default_rng(seed)
    copies = int(n * COPY_SHARE)
    originals = list(poscar_structures(n - copies, max_sites))
    if len(originals) < n - copies:
        raise SystemExit(f"only {len(originals)} poscar2d structures have at most {max_sites} sites")
    changes = {
        "supercell": lambda s: supercell(s, 2, 1),
        "rotated": lambda s: rotated(permuted(s, rng), rng),
        "noisy": lambda s: noisy(s, rng, 0.01, 0.03),
    }
    made = []
    for i in range(copies):
        name, structure = originals[i // len(CHANGES)]
        label = CHANGES[i % len(CHANGES)]
        made.append((f"{name}/{label}", changes[label](structure)))
    return originals + made


def warm_up(items: list[tuple[str, Structure]]) -> None:
    """Import torch and load the compiled kernels (from numba's disk cache, or compile them once)."""
    found = invariants([s for _, s in items[:2]])
    pdd_distance(found[0].pdd, found[-1].pdd)


def run_atlas2d(items: list[tuple[str, Structure]]) -> tuple[float, float, dict[str, int]]:
    """Seconds computing the invariants and seconds of the rest of ``run_dedup`` on a fresh
    store holding ``items``, and each key's material."""
    with tempfile.TemporaryDirectory(prefix="atlas2d-bench-") as folder:
        pgdata = Path(folder) / "pgdata"
        url = start_embedded(pgdata, database="bench")
        engine = make_engine(url)
        upgrade(engine)
        with Session(engine) as session:
            for start in range(0, len(items), 500):
                seed_store(session, [structure_record(k, s) for k, s in items[start : start + 500]])
            began = time.perf_counter()
            refresh.refresh(session)
            computed = time.perf_counter()
            run_dedup(session)
            clustered = time.perf_counter()
            material = dict(session.execute(select(Entry.source_key, Entry.material_id)).all())
        engine.dispose()
        embedded_server(pgdata.resolve()).stop()
    return computed - began, clustered - computed, material


def invariants_rate(items: list[tuple[str, Structure]], repeats: int = 3) -> float:
    """Structures per second of ``invariants_of_cells`` on all ``items`` packed (best of ``repeats``)."""
    layers = [to_2d_convention(s) for _, s in items]
    lattices = np.stack([layer.lattice for layer in layers])
    positions = np.concatenate([layer.positions for layer in layers])
    offsets = np.cumsum([0] + [len(layer.species) for layer in layers])
    species = [symbol for layer in layers for symbol in layer.species]
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        invariants_of_cells(lattices, positions, offsets, species)
        best = min(best, time.perf_counter() - began)
    return len(items) / best


def run_structurematcher(items: list[tuple[str, Structure]]) -> tuple[float, dict[str, int]]:
    """Seconds of ``StructureMatcher().group_structures`` and each key's group number."""
    keyed = []
    for key, structure in items:
        copy = structure.copy()
        copy.properties["key"] = key
        keyed.append(copy)
    began = time.perf_counter()
    groups = StructureMatcher().group_structures(keyed)
    elapsed = time.perf_counter() - began
    return elapsed, {s.properties["key"]: g for g, group in enumerate(groups) for s in group}


def original(key: str) -> str:
    """The key of the real structure that ``key`` is a changed copy of (itself for originals)."""
    name, _, label = key.rpartition("/")
    return name if label in CHANGES else key


def same_formula_pairs(items: list[tuple[str, Structure]]) -> list[tuple[str, str]]:
    """All pairs of keys whose structures have the same reduced formula (the only pairs either method can group)."""
    by_formula: dict[str, list[str]] = {}
    for key, structure in items:
        by_formula.setdefault(structure.composition.reduced_formula, []).append(key)
    return [pair for keys in by_formula.values() for pair in combinations(keys, 2)]


def agreement(items: list[tuple[str, Structure]], ours: dict[str, int], theirs: dict[str, int]) -> dict[str, float]:
    """Pairwise agreement over same-formula pairs, how the disagreements split, and how many
    pairs known to be duplicates (copies of one original) each method grouped."""
    both = only_ours = only_theirs = neither = copies = copies_ours = copies_theirs = 0
    for a, b in same_formula_pairs(items):
        mine, other = ours[a] == ours[b], theirs[a] == theirs[b]
        both += mine and other
        only_ours += mine and not other
        only_theirs += other and not mine
        neither += not mine and not other
        if original(a) == original(b):
            copies += 1
            copies_ours += mine
            copies_theirs += other
    pairs = both + only_ours + only_theirs + neither
    return {
        "same_formula_pairs": pairs,
        "pairs_grouped_by_both": both,
        "pairs_grouped_only_by_atlas2d": only_ours,
        "pairs_grouped_only_by_structurematcher": only_theirs,
        "pair_agreement": (both + neither) / pairs if pairs else 1.0,
        "known_duplicate_pairs": copies,
        "known_duplicate_pairs_grouped_by_atlas2d": copies_ours,
        "known_duplicate_pairs_grouped_by_structurematcher": copies_theirs,
    }


def disagreements(
    items: list[tuple[str, Structure]], ours: dict[str, int], theirs: dict[str, int], tolerance: float
) -> list[dict[str, object]]:
    """Every same-formula pair that one method grouped and the other did not, with its PDD EMD and ``reason``."""
    structure = dict(items)
    pairs = [(a, b) for a, b in same_formula_pairs(items) if (ours[a] == ours[b]) != (theirs[a] == theirs[b])]
    keys = sorted({k for pair in pairs for k in pair})
    pdds = dict(zip(keys, (inv.pdd for inv in invariants([structure[k] for k in keys])), strict=True)) if keys else {}
    matcher = StructureMatcher()
    listed = []
    for a, b in pairs:
        emd = pdd_distance(pdds[a], pdds[b])
        grouped_by = "atlas2d" if ours[a] == ours[b] else "structurematcher"
        listed.append(
            {
                "a": a,
                "b": b,
                "grouped_by": grouped_by,
                "pdd_emd_angstrom": round(emd, 4),
                "reason": reason(a, b, structure[a], structure[b], grouped_by, emd, tolerance, matcher),
            }
        )
    return sorted(listed, key=lambda row: (row["reason"], row["a"], row["b"]))


def reason(
    a: str,
    b: str,
    first: Structure,
    second: Structure,
    grouped_by: str,
    emd: float,
    tolerance: float,
    matcher: StructureMatcher,
) -> str:
    """Why the two methods disagree on one pair, as a class.

    - known duplicate (original / supercell / rotated / noisy, for each of the two): changed
      copies of one original, so the method that kept them apart missed it (cell choice,
      frame, noise);
    - StructureMatcher tolerance through vacuum: it groups the pair as given but not with
      ``THIN_VACUUM`` of vacuum each (its site tolerance grew with the vacuum);
    - same-formula polymorph: different space groups, PDDs apart, StructureMatcher grouped them;
    - grouped through other members: union-find (atlas2d) or a group's first member
      (StructureMatcher) joined the pair, not a direct match;
    - otherwise the two tolerances simply differ, with the space groups named.
    """
    if original(a) == original(b):
        changes = " vs ".join(key.rpartition("/")[2] if key != original(key) else "original" for key in (a, b))
        missed = "StructureMatcher" if grouped_by == "atlas2d" else "atlas2d"
        return f"known duplicate ({changes}): {missed} missed it"
    groups = (_space_group(first), _space_group(second))
    if grouped_by == "structurematcher":
        if not matcher.fit(first, second):
            return "StructureMatcher grouped through another member"
        if not matcher.fit(with_vacuum(first, THIN_VACUUM), with_vacuum(second, THIN_VACUUM)):
            return "StructureMatcher tolerance through vacuum"
        if groups[0] != groups[1]:
            return "same-formula polymorph (space groups differ)"
        return "same space group, PDD EMD above tolerance"
    if emd > tolerance:
        return "atlas2d grouped through other members"
    if groups[0] != groups[1]:
        return "within PDD tolerance, space groups differ (symprec 0.1)"
    return "within PDD tolerance, same space group"


def _space_group(structure: Structure) -> str:
    return SpacegroupAnalyzer(structure, symprec=0.1).get_space_group_symbol()


def labelled_scores(bases: int, with_structurematcher: bool) -> dict[str, object]:
    """Precision and recall of atlas2d (and StructureMatcher) on the labelled set built from ``bases`` monolayers."""
    data = build(bases)
    items = list(data.structures.items())
    _, _, ours = run_atlas2d(items)
    methods = {"atlas2d": ours}
    if with_structurematcher:
        methods["structurematcher"] = run_structurematcher(items)[1]
    result: dict[str, object] = {"labelled_structures": len(items), "labelled_pairs": len(data.pairs)}
    for name, grouping in methods.items():
        outcome: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        for a, b, duplicate, kind in data.pairs:
            merged = grouping[a] == grouping[b]
            verdict = {(True, True): "tp", (False, True): "fp", (True, False): "fn", (False, False): "tn"}[(duplicate, merged)]
            outcome[verdict] += 1
            if verdict in ("fp", "fn"):
                errors[f"{verdict}:{kind}"] += 1
        result[f"labelled_precision_{name}"] = round(outcome["tp"] / max(1, outcome["tp"] + outcome["fp"]), 4)
        result[f"labelled_recall_{name}"] = round(outcome["tp"] / max(1, outcome["tp"] + outcome["fn"]), 4)
        result[f"labelled_errors_{name}"] = dict(sorted(errors.items()))
    return result


def main() -> None:
    parser = benchmark_parser(__doc__, "200 structures, 6 labelled bases")
    parser.add_argument("--n", type=int, default=2000, help="structures in the full run")
    parser.add_argument("--max-sites", type=int, default=48, help="largest cell taken from poscar2d")
    parser.add_argument("--labelled-bases", type=int, default=60, help="poscar2d monolayers the labelled set is built from")
    args = parser.parse_args()
    n = 200 if args.quick else args.n
    bases = 6 if args.quick else args.labelled_bases
    loading = time.perf_counter()
    items = structures(n, args.max_sites)
    warm_up(items)
    load_s = time.perf_counter() - loading
    gc.collect()
    gc.freeze()
    invariants_s, cluster_s, ours = run_atlas2d(items)
    ours_s = invariants_s + cluster_s
    rate = invariants_rate(items)
    theirs_s, theirs = run_structurematcher(items)
    listed = disagreements(items, ours, theirs, DEFAULT_TOLERANCE)
    result = {
        "n_structures": len(items),
        "n_changed_copies": int(n * COPY_SHARE),
        "max_sites": args.max_sites,
        "tolerance_angstrom": DEFAULT_TOLERANCE,
        "device": str(resolve_device("auto")),
        "load_s": round(load_s, 2),
        "atlas2d_first_dedup_s": round(ours_s, 3),
        "atlas2d_invariants_s": round(invariants_s, 3),
        "atlas2d_candidates_emd_clusters_s": round(cluster_s, 3),
        "invariants_structures_per_s": round(rate),
        "structurematcher_s": round(theirs_s, 3),
        "speedup_vs_structurematcher": round(theirs_s / ours_s, 2),
        "speedup_vs_structurematcher_invariants_cached": round(theirs_s / cluster_s, 2),
        "atlas2d_materials": len(set(ours.values())),
        "structurematcher_groups": len(set(theirs.values())),
        **agreement(items, ours, theirs),
        **labelled_scores(bases, with_structurematcher=True),
        "disagreement_reasons": dict(Counter(str(row["reason"]) for row in listed).most_common()),
    }
    report({**result, "disagreements": listed}, args.json, title="metric")
    for key, value in result.items():
        if isinstance(value, dict):
            print(f"\n{key}: " + (", ".join(f"{k} {v}" for k, v in value.items()) or "none"))
    print(f"\nPairs grouped by one method only ({len(listed)}):")
    print(f"{'grouped by':<17} {'PDD EMD Å':>9}  {'reason':<72} pair")
    for row in listed:
        print(f"{row['grouped_by']:<17} {row['pdd_emd_angstrom']:>9}  {row['reason']:<72} {row['a']}  {row['b']}")


if __name__ == "__main__":
    main()
