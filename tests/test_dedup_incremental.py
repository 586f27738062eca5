"""Incremental dedup: new structures joined to the stored clusters give the partition a full run gives.

Real records throughout: 2DMatPedia's (``atlas2d.testdata.scaled``: copy 1 of a real record is
that record with 0.01 Å of noise, a true duplicate), the bundled MC2D and C2DB samples, the
experimental CSV (records without a structure, linked by rule), and poscar2d structures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from atlas2d.embeddings.structure.dedup import DedupSummary, run_dedup
from atlas2d.embeddings.structure.overrides import set_override
from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.samples import SAMPLES
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import DedupNeighbourhood, DedupPair, DedupState, Entry, MergeEvidence, Structure
from atlas2d.testdata.labelled import noisy, permuted, rotated
from atlas2d.testdata.poscar import poscar_structures, seed_store, structure_record
from atlas2d.testdata.scaled import write_jsonl

REAL = 1000
"""Real 2DMatPedia records in ``atlas2d.testdata.scaled``; record ``REAL + i`` is a noisy duplicate of record ``i``."""


def _partition(session: Session) -> set[frozenset[int]]:
    """Entries grouped by material (the material ids themselves aside)."""
    groups: dict[int, set[int]] = {}
    for entry, material in session.execute(select(Entry.id, Entry.material_id)):
        groups.setdefault(material, set()).add(entry)
    return {frozenset(g) for g in groups.values()}


def _evidence(session: Session) -> set[tuple[int, int, float | None, str]]:
    rows = session.execute(select(MergeEvidence.entry_a_id, MergeEvidence.entry_b_id, MergeEvidence.distance, MergeEvidence.rule))
    return {(a, b, None if d is None else round(d, 9), rule) for a, b, d, rule in rows}


def _records(session: Session) -> tuple[set[tuple[int, float]], set[tuple[int, int, float]]]:
    """What the next incremental run starts from: every radius and every confirmed pair."""
    radii = {(e, round(r, 5)) for e, r in session.execute(select(DedupNeighbourhood.entry_id, DedupNeighbourhood.radius))}
    pairs = {(a, b, round(d, 9)) for a, b, d in session.execute(select(DedupPair.entry_a_id, DedupPair.entry_b_id, DedupPair.distance))}
    return radii, pairs


def _matches_full_run(session: Session, summary: DedupSummary, neighbours: int = 10) -> None:
    """The incremental run's partition, evidence and records equal those of a full run on the same store."""
    assert summary.incremental, summary.full_because
    session.expire_all()
    partition, evidence, records = _partition(session), _evidence(session), _records(session)
    full = run_dedup(session, neighbours=neighbours, device="cpu", full=True)
    assert full.full_because == "asked for (--full)"
    session.expire_all()
    assert _partition(session) == partition
    assert _evidence(session) == evidence
    assert _records(session) == records
    assert (full.materials, full.duplicate_clusters, full.cross_source_clusters, full.merges) == (
        summary.materials,
        summary.duplicate_clusters,
        summary.cross_source_clusters,
        summary.merges,
    )


def test_real_records_added_later_give_the_full_runs_partition(store_url: str, session: Session, tmp_path: Path) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, "2dmatpedia", [write_jsonl(tmp_path / "first.jsonl", 0, 300)])
    ingest_files(engine, "mc2d", [SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json"])
    first = run_dedup(session, device="cpu")
    assert first.full_because == "no earlier dedup recorded" and not first.incremental

    later = tmp_path / "later.jsonl"
    with later.open("wb") as handle:
        for part in (write_jsonl(tmp_path / "a.jsonl", 300, 400), write_jsonl(tmp_path / "b.jsonl", REAL, REAL + 100)):
            handle.write(part.read_bytes())
        handle.write(write_jsonl(tmp_path / "c.jsonl", REAL + 300, REAL + 400).read_bytes())
    ingest_files(engine, "2dmatpedia", [later])
    ingest_files(engine, "c2db", sorted((SAMPLES / "c2db").glob("*.structure.json")))
    ingest_files(engine, "experimental", [SAMPLES / "experimental" / "experimental_2d_monolayers.csv"])
    engine.dispose()

    summary = run_dedup(session, device="cpu")
    assert summary.new_structures == 300 + len(list((SAMPLES / "c2db").glob("*.structure.json")))
    assert summary.confirmed >= 200, "copies of stored records and of each other are found"
    keys = dict(session.execute(select(Entry.source_key, Entry.material_id)).all())
    stored = [r for r in keys if r.startswith("2dm-") and "-copy" not in r]
    assert len(stored) == 400
    for key, material in keys.items():
        if key.endswith("-copy1"):
            assert material == keys[key.removesuffix("-copy1")], key
    _matches_full_run(session, summary)


def test_new_structures_that_push_a_confirmed_pair_out_of_the_knn_split_its_cluster(session: Session) -> None:
    """With one neighbour, near copies of two stored duplicates become each one's nearest: the pair is no candidate any more.

    A full run on the grown store then finds two materials where the stored clusters had one,
    so the incremental run must take the pair back, not only add pairs.
    """
    rng = np.random.default_rng(5)
    bases = poscar_structures(8, 24)
    first = [noisy(s, rng, 0.03, 0.04) for _, s in bases]
    second = [rotated(permuted(noisy(s, rng, 0.03, 0.04), rng), rng) for _, s in bases]
    seed_store(session, [structure_record(f"{name}-a", s) for (name, _), s in zip(bases, first, strict=True)])
    seed_store(session, [structure_record(f"{name}-b", s) for (name, _), s in zip(bases, second, strict=True)])
    run_dedup(session, neighbours=1, device="cpu")
    materials = dict(session.execute(select(Entry.source_key, Entry.material_id)).all())
    assert all(materials[f"{name}-a"] == materials[f"{name}-b"] for name, _ in bases)
    near = [
        (f"{name}-{end}", noisy(s, rng, 0.001, 0.002))
        for (name, _), pair in zip(bases[:3], zip(first, second, strict=True), strict=False)
        for end, s in zip("ab", pair, strict=True)
    ]
    seed_store(session, [structure_record(f"{key}-near", s) for key, s in near])
    summary = run_dedup(session, neighbours=1, device="cpu")
    assert summary.dropped_pairs >= 1 and summary.reverse_neighbours >= 2
    materials = dict(session.execute(select(Entry.source_key, Entry.material_id)).all())
    assert any(materials[f"{name}-a"] != materials[f"{name}-b"] for name, _ in bases[:3])
    _matches_full_run(session, summary, neighbours=1)


def test_a_split_override_holds_when_new_structures_bridge_its_two_ends(session: Session) -> None:
    base = poscar_structures(1, 24)[0][1]
    rng = np.random.default_rng(3)
    seed_store(session, [structure_record(f"v{i}", noisy(base, rng, 0.01, 0.02)) for i in range(2)])
    ids = dict(session.execute(select(Entry.source_key, Entry.id)).all())
    set_override(session, ids["v0"], ids["v1"], "split")
    run_dedup(session, device="cpu")
    seed_store(session, [structure_record(f"w{i}", noisy(base, rng, 0.01, 0.02)) for i in range(3)])
    summary = run_dedup(session, device="cpu")
    materials = dict(session.execute(select(Entry.source_key, Entry.material_id)).all())
    assert materials["v0"] != materials["v1"]
    assert summary.refused_by_split >= 1
    _matches_full_run(session, summary)


def test_nothing_new_is_an_incremental_run_that_changes_nothing(session: Session) -> None:
    seed_store(session, [structure_record(name, s) for name, s in poscar_structures(6, 24)])
    first = run_dedup(session, device="cpu")
    before = _partition(session), _evidence(session), _records(session)
    again = run_dedup(session, device="cpu")
    assert again.incremental and again.new_structures == 0 and again.candidates == 0
    assert (again.materials, again.merges) == (first.materials, first.merges)
    assert (_partition(session), _evidence(session), _records(session)) == before


def _rerun(session: Session, *statements: object, **options: object) -> DedupSummary:
    for statement in statements:
        session.execute(statement)
    session.commit()
    return run_dedup(session, device="cpu", **options)


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda s, ids: _rerun(s, tolerance=0.1), "tolerance changed (0.2 -> 0.1 Å)"),
        (lambda s, ids: _rerun(s, neighbours=3), "neighbour count changed (10 -> 3)"),
        (lambda s, ids: (set_override(s, ids[0], ids[1], "join"), _rerun(s))[1], "curator overrides changed"),
        (lambda s, ids: _rerun(s, delete(Entry).where(Entry.id == ids[2])), "1 clustered structures were removed or replaced"),
        (lambda s, ids: _rerun(s, full=True), "asked for (--full)"),
        (
            lambda s, ids: _rerun(
                s,
                delete(DedupNeighbourhood).where(DedupNeighbourhood.entry_id == ids[3]),
                update(DedupState).values(structures=DedupState.structures - 1),
            ),
            "1 structures of entries older than the last run are not clustered",
        ),
        (lambda s, ids: _rerun(s, update(Structure).where(Structure.entry_id == ids[0]).values(amd=None)), None),
    ],
)
def test_anything_but_new_structures_falls_back_to_a_full_run(session: Session, change, reason: str | None) -> None:  # noqa: ANN001
    seed_store(session, [structure_record(name, s) for name, s in poscar_structures(6, 24)])
    ids = sorted(session.execute(select(Entry.id)).scalars())
    run_dedup(session, device="cpu")
    summary = change(session, ids)
    if reason is None:
        assert summary.computed == 1 and summary.incremental, "the same structure's invariants computed again are the same"
    else:
        assert summary.full_because == reason and not summary.incremental


def test_cli_says_which_run_it_made(session: Session, cli_env: str, atlas2d) -> None:  # noqa: ANN001
    bases = poscar_structures(6, 24)
    seed_store(session, [structure_record(name, s) for name, s in bases[:4]])
    env = {"ATLAS2D_DATABASE_URL": cli_env}
    run = atlas2d("dedup", **env)
    assert run.returncode == 0, run.stderr
    assert "full: every cluster recomputed (no earlier dedup recorded)" in run.stdout
    seed_store(session, [structure_record(name, s) for name, s in bases[4:]])
    run = atlas2d("dedup", **env)
    assert run.returncode == 0, run.stderr
    assert "incremental: 2 new structures joined to the stored clusters" in run.stdout and "structures re-clustered" in run.stdout
    run = atlas2d("dedup", "--full", **env)
    assert run.returncode == 0, run.stderr
    assert "full: every cluster recomputed (asked for (--full))" in run.stdout
