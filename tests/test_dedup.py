"""Dedup through the real store: invariants, kNN candidates, EMD confirmation, overrides, CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from atlas2d.api.commands import dedup as dedup_command
from atlas2d.embeddings.structure import refresh as invariant_refresh
from atlas2d.embeddings.structure.candidates import DEFAULT_TOLERANCE
from atlas2d.embeddings.structure.dedup import run_dedup
from atlas2d.embeddings.structure.explain import explain, report
from atlas2d.embeddings.structure.invariants import INVARIANTS_VERSION
from atlas2d.embeddings.structure.overrides import JOIN_RULE, set_override
from atlas2d.embeddings.structure.search import similar_by_structure
from atlas2d.ingest.records import SourceInfo
from atlas2d.schema.models import (
    ClusterOverride,
    Entry,
    Material,
    MergeEvidence,
    Source,
    Structure,
)
from atlas2d.schema.settings import Settings
from atlas2d.testdata.labelled import noisy, permuted, rotated, supercell, with_vacuum
from atlas2d.testdata.poscar import poscar_structures, seed_store, structure_record

OTHER = SourceInfo(name="variants-test", title="Constructed variants of poscar2d structures (test fixture)")


def _seed(session: Session) -> dict[str, int]:
    """Six real structures in one source; a changed copy of the first four in another."""
    rng = np.random.default_rng(11)
    bases = list(poscar_structures(6, 24))
    seed_store(session, [structure_record(name, s) for name, s in bases])
    changes = [
        lambda s: supercell(s, 2, 1),
        lambda s: rotated(permuted(s, rng), rng),
        lambda s: noisy(with_vacuum(s, 30.0), rng),
        lambda s: with_vacuum(s, 10.0),
    ]
    copies = [structure_record(f"copy-of-{name}", change(s)) for (name, s), change in zip(bases, changes)]
    seed_store(session, copies, OTHER)
    return dict(session.execute(select(Entry.source_key, Entry.id)).all())


def _material(session: Session, entry_id: int) -> int | None:
    return session.execute(select(Entry.material_id).where(Entry.id == entry_id)).scalar_one()


def test_dedup_merges_copies_across_sources_and_records_evidence(session: Session) -> None:
    ids = _seed(session)
    names = [name for name, _ in poscar_structures(6, 24)]
    summary = run_dedup(session)
    assert summary.structures == 10 and summary.computed == 10
    assert summary.merges == 4 and summary.cross_source_clusters == 4
    for name in names[:4]:
        assert _material(session, ids[name]) == _material(session, ids[f"copy-of-{name}"])
    assert len({_material(session, ids[n]) for n in names}) == 6
    assert session.scalar(select(func.count()).select_from(Material)) == 6
    versions = session.execute(select(Structure.invariants_version).distinct()).scalars().all()
    assert versions == [INVARIANTS_VERSION]
    evidence = session.execute(select(MergeEvidence.distance, MergeEvidence.rule)).all()
    assert len(evidence) == 4
    assert all(0 <= d <= DEFAULT_TOLERANCE and "PDD EMD <= 0.2" in rule for d, rule in evidence)

    before = {e: _material(session, e) for e in ids.values()}
    again = run_dedup(session)
    assert again.computed == 0 and again.merges == 4
    assert {e: _material(session, e) for e in ids.values()} == before

    strict = run_dedup(session, tolerance=0.0)
    assert strict.merges < 4


def _amd_index_exists(session: Session) -> bool:
    found = session.execute(text("SELECT 1 FROM pg_indexes WHERE indexname = 'ix_structure_amd_hnsw'")).first()
    return found is not None


def test_bulk_run_rebuilds_the_amd_index_and_a_lost_index_comes_back(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _seed(session)
    monkeypatch.setattr(invariant_refresh, "BULK_REINDEX", 5)
    dropped: list[bool] = []
    summary = run_dedup(session, progress=lambda n: dropped.append(not _amd_index_exists(session)))
    assert summary.computed == 10 and dropped and all(dropped)
    assert _amd_index_exists(session)
    name = poscar_structures(1, 24)[0][0]
    assert _material(session, ids[name]) == _material(session, ids[f"copy-of-{name}"])

    session.execute(text("DROP INDEX ix_structure_amd_hnsw"))
    session.commit()
    assert run_dedup(session).computed == 0
    assert _amd_index_exists(session)


def test_overrides_split_and_join_are_respected(session: Session) -> None:
    ids = _seed(session)
    names = [name for name, _ in poscar_structures(6, 24)]
    run_dedup(session)
    original, copy = ids[names[0]], ids[f"copy-of-{names[0]}"]
    set_override(session, copy, original, "split", note="curator: different magnetic order")
    set_override(session, ids[names[4]], ids[names[5]], "join")
    summary = run_dedup(session)
    assert _material(session, original) != _material(session, copy)
    assert _material(session, ids[names[4]]) == _material(session, ids[names[5]])
    assert summary.refused_by_split == 1
    rules = session.execute(select(MergeEvidence.rule).where(MergeEvidence.distance.is_(None))).scalars().all()
    assert rules == [JOIN_RULE]
    why = explain(session, original)
    assert why.overrides == [(original, copy, "split", "curator: different magnetic order")]
    near = {c.entry_id: c for c in why.candidates}
    assert near[copy].reason == "curator override: split" and not near[copy].merged

    set_override(session, original, copy, "join")
    assert session.scalar(select(func.count()).select_from(ClusterOverride)) == 2
    run_dedup(session)
    assert _material(session, original) == _material(session, copy)


def test_split_is_kept_even_through_a_chain_of_duplicates(session: Session) -> None:
    base = poscar_structures(1, 24)[0][1]
    rng = np.random.default_rng(2)
    seed_store(session, [structure_record(f"v{i}", noisy(base, rng, 0.01, 0.02)) for i in range(3)])
    ids = dict(session.execute(select(Entry.source_key, Entry.id)).all())
    set_override(session, ids["v0"], ids["v2"], "split")
    summary = run_dedup(session)
    assert _material(session, ids["v0"]) != _material(session, ids["v2"])
    assert summary.materials == 2


def test_explain_report_and_similar(session: Session) -> None:
    ids = _seed(session)
    names = [name for name, _ in poscar_structures(6, 24)]
    run_dedup(session)
    why = explain(session, ids[names[1]])
    assert {m[0] for m in why.members} == {ids[names[1]], ids[f"copy-of-{names[1]}"]}
    assert len(why.evidence) == 1 and why.evidence[0][2] <= DEFAULT_TOLERANCE
    assert why.candidates[0].entry_id == ids[f"copy-of-{names[1]}"] and why.candidates[0].merged

    rows = report(session)
    assert len(rows) == 4
    assert all(r.sources == sorted(["poscar2d-test", OTHER.name]) and len(r.entries) == 2 for r in rows)

    near = similar_by_structure(session, ids[names[1]], k=3)
    assert len(near) == 3
    own = _material(session, ids[names[1]])
    assert all(n.material_id != own for n in near)
    assert [n.distance for n in near] == sorted(n.distance for n in near)
    by_material = similar_by_structure(session, own, k=3, by_material=True)
    assert [n.material_id for n in by_material] == [n.material_id for n in near]
    assert len(similar_by_structure(session, ids[names[1]], k=50)) == 5


def test_bad_inputs(session: Session) -> None:
    ids = _seed(session)
    first = min(ids.values())
    with pytest.raises(LookupError, match="run 'atlas2d dedup' first"):
        similar_by_structure(session, first)
    with pytest.raises(ValueError, match="tolerance"):
        run_dedup(session, tolerance=-1)
    with pytest.raises(ValueError, match="unknown override"):
        set_override(session, first, first + 1, "merge")
    with pytest.raises(ValueError, match="two different"):
        set_override(session, first, first, "split")
    with pytest.raises(LookupError, match="no entry"):
        set_override(session, first, 10**9, "join")
    with pytest.raises(LookupError, match="no entry"):
        explain(session, 10**9)
    with pytest.raises(LookupError, match="no entry"):
        similar_by_structure(session, 10**9)


def test_cli_constant_matches_engine() -> None:
    assert dedup_command.DEFAULT_TOLERANCE == DEFAULT_TOLERANCE


def test_cli_dedup_report_explain_similar_override(session: Session, cli_env: str, atlas2d, tmp_path: Path) -> None:  # noqa: ANN001
    ids = _seed(session)
    names = [name for name, _ in poscar_structures(6, 24)]
    env = {"ATLAS2D_DATABASE_URL": cli_env}
    run = atlas2d("dedup", **env)
    assert run.returncode == 0, run.stderr
    assert "materials across sources" in run.stdout
    table = tmp_path / "dupes.csv"
    run = atlas2d("dedup", "--report", "--csv", str(table), **env)
    assert run.returncode == 0, run.stderr
    assert "Duplicates across sources" in run.stdout
    with table.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and {r["source"] for r in rows} == {"poscar2d-test", OTHER.name}
    run = atlas2d("dedup", "--explain", str(ids[names[0]]), **env)
    assert run.returncode == 0, run.stderr
    assert "Merge evidence" in run.stdout and "Nearest structures" in run.stdout
    run = atlas2d("similar", str(ids[names[0]]), "--k", "2", "--by", "structure", **env)
    assert run.returncode == 0, run.stderr
    assert "Nearest materials" in run.stdout
    run = atlas2d("dedup", "override", "split", str(ids[f"copy-of-{names[0]}"]), str(ids[names[0]]), **env)
    assert run.returncode == 0 and "recorded" in run.stdout
    stored = session.execute(select(ClusterOverride.entry_a_id, ClusterOverride.entry_b_id, ClusterOverride.action)).all()
    assert stored == [(ids[names[0]], ids[f"copy-of-{names[0]}"], "split")]


@pytest.mark.parametrize(
    "args, message",
    [
        (("dedup", "--explain", "999999"), "no entry with id 999999"),
        (("dedup", "--csv", "x.csv"), "--csv goes with --report"),
        (("dedup", "--tolerance", "-0.5"), "--tolerance must be a non-negative"),
        (("dedup", "override", "merge", "1", "2"), "unknown override"),
        (("dedup", "override", "split", "1", "999999"), "no entry"),
        (("similar", "999999"), "no entry 999999"),
        (("similar", "1", "--by", "colour"), "unknown --by"),
    ],
)
def test_cli_bad_inputs_fail_in_one_line(cli_env: str, atlas2d, args: tuple[str, ...], message: str) -> None:  # noqa: ANN001
    run = atlas2d(*args, ATLAS2D_DATABASE_URL=cli_env)
    assert run.returncode == 1
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_report_needs_a_migrated_store(session: Session) -> None:
    assert session.scalar(select(func.count()).select_from(Source)) == 0
    assert report(session) == []


def test_demo_step_deduplicates_and_lists_cross_source_duplicates(
    session: Session, cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _seed(session)
    name = poscar_structures(6, 24)[0][0]
    dedup_command.deduplicate_and_report(Settings(database_url=cli_env))
    out = capsys.readouterr().out
    assert "materials across sources" in out and "Duplicates across sources" in out
    session.expire_all()
    assert _material(session, ids[name]) == _material(session, ids[f"copy-of-{name}"])
