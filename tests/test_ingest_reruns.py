"""Re-running an ingest changes nothing; a changed record is updated with its history kept;
a run killed with SIGKILL leaves a consistent store that a re-run completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.samples import SAMPLES, bundled
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import (
    Entry,
    EntryRevision,
    PropertyValue,
    Quarantine,
    Structure,
)
from atlas2d.testdata import REPO

MC2D_ITEMS = json.loads((SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json").read_text())

SNAPSHOT = text(
    """
    SELECT (SELECT count(*) FROM entry), (SELECT count(*) FROM structure), (SELECT count(*) FROM property),
           (SELECT count(*) FROM material), (SELECT count(*) FROM quarantine), (SELECT count(*) FROM entry_revision),
           (SELECT md5(string_agg(e.raw_sha256 || e.revision || e.material_id, ',' ORDER BY e.id)) FROM entry e),
           (SELECT md5(string_agg(s.entry_id || s.lattice_vectors::text || s.cartesian_site_positions::text, ','
                                  ORDER BY s.entry_id)) FROM structure s),
           (SELECT md5(string_agg(p.entry_id || p.name || coalesce(p.value::text, p.value_text), ',' ORDER BY p.id)) FROM property p),
           (SELECT max(updated_at) FROM entry)
    """
)


def _ingest_all(url: str) -> list[tuple[int, int, int, int]]:
    engine = make_engine(url)
    summaries = [ingest_files(engine, source, files) for source, files in bundled()]
    engine.dispose()
    return [(s.inserted, s.updated, s.unchanged, s.quarantined) for s in summaries]


def test_reingest_adds_and_changes_nothing(store_url: str) -> None:
    first = _ingest_all(store_url)
    engine = make_engine(store_url)
    with engine.connect() as conn:
        before = conn.execute(SNAPSHOT).one()
    second = _ingest_all(store_url)
    with engine.connect() as conn:
        after = conn.execute(SNAPSHOT).one()
    engine.dispose()
    assert all(inserted > 0 and unchanged == 0 for inserted, _, unchanged, _ in first)
    assert second == [(0, 0, inserted, 0) for inserted, _, _, _ in first]
    assert after == before


def test_ingest_leaves_the_planner_statistics_of_the_store_it_wrote(store_url: str) -> None:
    """Autovacuum analyses on its own schedule; a query right after a bulk ingest must not be
    planned for an empty table (on the real sources that plan took over 30 s instead of 0.1 s)."""
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json"])
    with engine.connect() as conn:
        estimated = conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'property'")).scalar_one()
        actual = conn.execute(text("SELECT count(*) FROM property")).scalar_one()
    engine.dispose()
    assert actual > 0
    assert estimated == actual


def test_a_changed_record_updates_its_entry_and_keeps_the_old_raw(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "mc2d.json"
    path.write_text(json.dumps(MC2D_ITEMS[:3]))
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [path])
    changed = [dict(MC2D_ITEMS[0], band_gap=1.234), *MC2D_ITEMS[1:3]]
    path.write_text(json.dumps(changed))
    summary = ingest_files(engine, "mc2d", [path])
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 2)
    with Session(engine) as session:
        entry = session.execute(select(Entry).where(Entry.source_key == MC2D_ITEMS[0]["structure_label"])).scalar_one()
        assert entry.revision == 2
        assert entry.raw["band_gap"] == 1.234
        gaps = session.execute(
            select(PropertyValue.value).where(PropertyValue.entry_id == entry.id, PropertyValue.name == "band_gap")
        ).scalars().all()
        assert gaps == [1.234]
        history = session.execute(select(EntryRevision).where(EntryRevision.entry_id == entry.id)).scalar_one()
        assert (history.revision, history.raw) == (1, MC2D_ITEMS[0])
        assert session.execute(select(func.count()).select_from(Structure)).scalar_one() == 3
    engine.dispose()


def test_a_killed_run_leaves_whole_batches_and_a_rerun_completes(store_url: str, tmp_path: Path) -> None:
    items = [dict(item, structure_label=f"{item['structure_label']}-copy{n}") for n in range(6) for item in MC2D_ITEMS]
    path = tmp_path / "many.json"
    path.write_text(json.dumps(items))
    env = {**os.environ, "ATLAS2D_DATABASE_URL": store_url, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "atlas2d", "ingest", "mc2d", str(path), "--batch-size", "50"]
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = make_engine(store_url)
    deadline = time.monotonic() + 120
    count = 0
    while count < 100 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(Entry)).scalar_one()
    process.send_signal(signal.SIGKILL)
    process.wait()
    with engine.connect() as conn:
        partial = conn.execute(select(func.count()).select_from(Entry)).scalar_one()
        without_structure = conn.execute(
            select(func.count()).select_from(Entry).outerjoin(Structure).where(Structure.entry_id.is_(None))
        ).scalar_one()
    assert 0 < partial < len(items), "the run should have been killed halfway"
    assert partial % 50 == 0, "only whole batches are committed"
    assert without_structure == 0
    summary = ingest_files(engine, "mc2d", [path], batch_size=50)
    assert (summary.inserted, summary.unchanged) == (len(items) - partial, partial)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Entry)).scalar_one() == len(items)
        assert conn.execute(select(func.count()).select_from(Structure)).scalar_one() == len(items)
        assert conn.execute(select(func.count()).select_from(Quarantine)).scalar_one() == 0
    engine.dispose()


def test_cli_ingest_prints_a_summary_and_refuses_bad_arguments(cli_env: str, atlas2d, tmp_path: Path) -> None:  # noqa: ANN001
    path = tmp_path / "two.json"
    path.write_text(json.dumps(MC2D_ITEMS[:2] + ["junk"]))
    done = atlas2d("ingest", "mc2d", str(path), ATLAS2D_DATABASE_URL=cli_env, COLUMNS="200")
    assert done.returncode == 0, done.stderr
    assert "Ingest summary" in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("│ mc2d"))
    assert [cell.strip() for cell in row.strip("│").split("│")] == ["mc2d", "MC2D v4 structures.json", "1", "3", "2", "0", "0", "1"]
    unknown = atlas2d("ingest", "nosuchdb", str(path), ATLAS2D_DATABASE_URL=cli_env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().startswith("error: unknown source 'nosuchdb'")
    missing = atlas2d("ingest", "mc2d", str(tmp_path / "absent.json"), ATLAS2D_DATABASE_URL=cli_env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"error: no such file or folder: {tmp_path / 'absent.json'}"
