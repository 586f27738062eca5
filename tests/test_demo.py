"""``atlas2d demo``, the README's first command, on a fresh embedded server, twice."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from atlas2d.schema.database import make_engine, start_embedded
from atlas2d.schema.models import BandStructure, Entry, Quarantine, Source
from tests.conftest import run_atlas2d


def test_demo_runs_on_the_embedded_server_and_a_rerun_adds_nothing(tmp_path: Path) -> None:
    first = run_atlas2d("demo", timeout=900, ATLAS2D_DATA_DIR=str(tmp_path), COLUMNS="250")
    assert first.returncode == 0, first.stderr
    assert "Ingest summary" in first.stdout
    engine = make_engine(start_embedded(tmp_path / "pgdata"))
    with engine.connect() as conn:
        per_source = dict(conn.execute(select(Source.name, func.count(Entry.id)).join(Entry).group_by(Source.name)).all())
        fingerprinted = conn.execute(
            select(func.count()).select_from(BandStructure).where(BandStructure.fingerprint.is_not(None))
        ).scalar_one()
        quarantined = conn.execute(select(func.count()).select_from(Quarantine)).scalar_one()
        measured_with_computed = conn.execute(
            select(func.count(func.distinct(Entry.material_id)))
            .join(Source)
            .where(Source.name == "experimental", Entry.material_link.like("linked:%"))
        ).scalar_one()
    assert per_source["mc2d"] == 200 + 150 + 14 and per_source["c2db"] == 2 + 150 and per_source["experimental"] == 8
    assert per_source["2dmatpedia"] == 150
    assert "MC2D campi-v2 structure_2d.json, MC2D Discover compounds JSON, MC2D v4 structures.json" in first.stdout
    assert "Duplicates across sources" in first.stdout and "entries without a structure linked by rule" in first.stdout
    assert fingerprinted == per_source["tight-binding-generated"] + 12 > 12, "generated models and the 12 real band structures"
    nearest = run_atlas2d("similar-bands", "mc2d/MoS2-c63547f0", "--k", "3", "--format", "json", ATLAS2D_DATA_DIR=str(tmp_path))
    assert nearest.returncode == 0, nearest.stderr
    assert {n["source_key"] for n in json.loads(nearest.stdout)} == {"MoSe2-a6703220", "WS2-231d4b60", "WSe2-3d52bc42"}, "2H TMDs first"
    assert "band structures nearest to entry" in first.stdout and "WSe2-3d52bc42" in first.stdout
    assert quarantined == 0
    assert measured_with_computed >= 5, "measured MoS2, MoSe2, WS2, WSe2, BN meet computed entries of their space group"
    assert "SHACL: conforms" in first.stdout
    second = run_atlas2d("demo", timeout=900, ATLAS2D_DATA_DIR=str(tmp_path))
    assert second.returncode == 0, second.stderr
    assert "0 new, 0 changed" in second.stdout
    assert "all " in second.stdout and "up-to-date fingerprints" in second.stdout
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Entry)).scalar_one() == sum(per_source.values())
    engine.dispose()
