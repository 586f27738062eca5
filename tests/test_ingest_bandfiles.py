"""Real band-structure files: GPAW/ASE JSON through ``bands-gpaw/index.csv``, VASP runs, and bad rows."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.ingest.band_records import BandDataError
from atlas2d.ingest.bandfiles import vasp
from atlas2d.ingest.bandfiles.index import ingest_index, reader_for
from atlas2d.ingest.pipeline import ingest_files
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import BandStructure, Entry, Quarantine
from atlas2d.testdata import SHARED_DATA

GPAW = SHARED_DATA / "bands-gpaw"
MOS2_VASP = SHARED_DATA / "bands-files" / "MoS2_vasp_jongmin01" / "strain_100_nosoc"
MC2D_V4 = SHARED_DATA / "mc2d" / "mc2d_v4_structures_sample.json"

pytestmark = pytest.mark.skipif(not GPAW.exists(), reason="needs ../shared/data")


def _gap(fermi: float, segments: list) -> float:
    energies = np.concatenate([s.energies for s in segments], axis=2)
    return float(energies[energies > fermi + 1e-3].min() - energies[energies <= fermi + 1e-3].max())


def test_mos2_vasprun_and_eigenval_give_a_pbe_gap_of_about_1_7_ev() -> None:
    for path in (MOS2_VASP / "vasprun.xml", MOS2_VASP / "EIGENVAL"):
        form, read = reader_for(path)
        fermi, segments, facts = read(path)
        assert [s.label for s in segments] == ["Γ-K", "K-M", "M-Γ"], form
        assert segments[0].energies.shape == (2, 24, 80) and facts["ispin"] == 2
        assert 1.55 < _gap(fermi, segments) < 1.8, form


def test_gpaw_index_attaches_every_file_to_its_mc2d_entry_and_a_rerun_changes_nothing(store_url: str, session: Session) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [MC2D_V4])
    with (GPAW / "index.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    first = ingest_index(engine, GPAW / "index.csv")
    assert first.rows == len(rows) == 132
    assert first.bands.inserted == len(rows) and first.quarantined == 0
    assert first.formats == {"ASE band-structure JSON": len(rows)}
    row = next(r for r in rows if r["source_id"] == "MoS2-c63547f0")
    stored = session.execute(
        select(BandStructure).join(Entry).where(Entry.source_key == row["source_id"])
    ).scalar_one()
    assert stored.method == "PBE" and stored.fermi_level == pytest.approx(float(row["fermi_level_eV"]), abs=1e-5)
    assert stored.provenance["code"] == row["code"] and stored.provenance["gap_eV"] == row["gap_eV"]
    energies = np.concatenate([np.asarray(s) for s in stored.energies["segments"]], axis=2)
    gap = energies[energies > stored.fermi_level].min() - energies[energies <= stored.fermi_level].max()
    assert gap == pytest.approx(float(row["gap_eV"]), abs=2e-3)
    again = ingest_index(engine, GPAW / "index.csv")
    assert (again.bands.inserted, again.bands.updated, again.bands.unchanged) == (0, 0, len(rows))
    engine.dispose()


def test_rows_without_entry_or_readable_file_are_quarantined_with_the_reason(store_url: str, session: Session, tmp_path: Path) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [MC2D_V4])
    (tmp_path / "broken.json").write_text('{"energies": [1, 2], "path": "GM", "reference": 0')
    (tmp_path / "good.json").write_bytes((GPAW / "BN-0e329ca7.bandstructure.json").read_bytes())
    index = tmp_path / "index.csv"
    index.write_text(
        "file,source,source_id,method,code\n"
        "good.json,mc2d,BN-0e329ca7,PBE,GPAW\n"
        "good.json,mc2d,no-such-entry,PBE,GPAW\n"
        "broken.json,mc2d,BN-0e329ca7,HSE06,GPAW\n"
        "missing.json,mc2d,BN-0e329ca7,G0W0,GPAW\n"
    )
    summary = ingest_index(engine, index)
    assert (summary.rows, summary.bands.inserted, summary.quarantined) == (4, 1, 3)
    reasons = sorted(session.execute(select(Quarantine.reason)).scalars())
    assert any("no entry mc2d:no-such-entry" in r for r in reasons)
    assert any("file not found: missing.json" in r for r in reasons)
    assert any(r.startswith("unreadable band file") and "missing.json" not in r for r in reasons)
    engine.dispose()


def test_an_eigenval_without_its_kpoints_is_refused(tmp_path: Path) -> None:
    (tmp_path / "EIGENVAL").write_bytes((MOS2_VASP / "EIGENVAL").read_bytes())
    with pytest.raises(BandDataError, match="KPOINTS"):
        vasp.read_eigenval(tmp_path / "EIGENVAL")


def test_cli_ingest_bands_reports_attached_and_quarantined_rows(store_url: str, cli_env: str, atlas2d, tmp_path: Path) -> None:  # noqa: ANN001
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [MC2D_V4])
    engine.dispose()
    (tmp_path / "good.json").write_bytes((GPAW / "BN-0e329ca7.bandstructure.json").read_bytes())
    (tmp_path / "index.csv").write_text(
        "file,source,source_id,method,code\ngood.json,mc2d,BN-0e329ca7,PBE,GPAW\ngood.json,mc2d,BN-0e329ca7,B3LYP,GPAW\n"
    )
    done = atlas2d("ingest", "bands", str(tmp_path), ATLAS2D_DATABASE_URL=cli_env, COLUMNS="200")
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("│ index.csv"))
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells == ["index.csv", "index CSV", "ASE band-structure JSON", "2", "1", "0", "0", "1"]
    assert "unknown method 'B3LYP'" in done.stdout
    missing = atlas2d("ingest", "bands", str(tmp_path / "nothing.csv"), ATLAS2D_DATABASE_URL=cli_env)
    assert missing.returncode == 1 and missing.stderr.strip() == f"error: no such index CSV: {tmp_path / 'nothing.csv'}"
