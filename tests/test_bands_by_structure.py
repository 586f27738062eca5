"""Band files without an index row, attached by the structure in or beside them; QE, Questaal and C2DB bands against their sources.

Stores hold real records only (MC2D v4 structures, C2DB rows and downloads); expected values
are read from the files themselves (plain text and JSON), never through the readers.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Structure
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.embeddings.structure.dedup import run_dedup
from atlas2d.embeddings.structure.match import match_stored
from atlas2d.ingest.bandfiles import qe, questaal
from atlas2d.ingest.bandfiles.index import ingest_index, reader_for
from atlas2d.ingest.bandfiles.loose import attach_files, band_files
from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.records import SourceInfo
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import BandStructure, Entry, Quarantine
from atlas2d.testdata import SHARED_DATA
from atlas2d.testdata.poscar import seed_store, structure_record

FILES = SHARED_DATA / "bands-files"
MOS2 = FILES / "MoS2_vasp_jongmin01"
NBS2 = FILES / "NbS2_qe_bryanalchemist"
WSE2 = FILES / "WSe2_qsgw_wse2excitons"
MC2D_V4 = SHARED_DATA / "mc2d" / "mc2d_v4_structures_sample.json"
C2DB_MOS2 = SHARED_DATA / "c2db" / "MoS2-165798ab5e18.structure.json"
DOWNLOAD = SHARED_DATA / "c2db" / "Be4-09dd42ad034e.row.json"

CONTCAR_SOURCE = SourceInfo(name="vasp-run-test", title="CONTCAR of the MoS2 VASP band run in bands-files (test fixture)")

pytestmark = pytest.mark.skipif(not FILES.exists(), reason="needs ../shared/data")


def _gap(fermi: float, energies: np.ndarray) -> float:
    return float(energies[energies > fermi + 1e-3].min() - energies[energies <= fermi + 1e-3].max())


def _stored(session: Session) -> list[BandStructure]:
    return list(session.execute(select(BandStructure).order_by(BandStructure.id)).scalars())


def test_qe_filband_is_read_with_the_fermi_level_cell_and_labels_of_the_pw_files_beside_it() -> None:
    path = NBS2 / "NbS2.bands"
    form, read = reader_for(path)
    fermi, segments, facts = read(path)
    scf = (NBS2 / "NbS2.scf.out").read_text()
    assert form == qe.FORMAT and fermi == float(re.search(r"the Fermi energy is\s+(\S+) ev", scf)[1])
    assert [s.label for s in segments] == ["Γ-M", "M-K", "K-Γ"]
    assert facts["method"] == "LDA" and facts["functional"] == "SLA PZ NOGX NOGC" and not facts["spin_orbit"]
    lines = (NBS2 / "NbS2.bands").read_text().splitlines()
    assert segments[0].energies[0, :10, 0] == pytest.approx([float(x) for x in lines[2].split()])
    energies = np.concatenate([s.energies for s in segments], axis=2)[0]
    crossing = [band for band in energies if band.min() < fermi < band.max()]
    assert len(crossing) == 1, "NbS2 is a metal: one band crosses the Fermi level"
    a = 3.2812
    assert segments[0].distances[-1] == pytest.approx(2 * np.pi / (a * np.sqrt(3)), rel=1e-3), "Γ-M is 2π/(a√3) in 1/Å"
    assert qe.structure(path).composition.reduced_formula == "NbS2"


def test_qe_filband_without_its_pw_output_is_refused(tmp_path: Path) -> None:
    shutil.copy(NBS2 / "NbS2.bands", tmp_path)
    with pytest.raises(ValueError, match="needs the pw.x output"):
        qe.read(tmp_path / "NbS2.bands")


def test_questaal_bnds_energies_are_converted_from_rydberg() -> None:
    path = WSE2 / "bnds.red"
    form, read = reader_for(path)
    fermi, segments, facts = read(path)
    lines = path.read_text().splitlines()
    rydberg = 13.605693122994
    assert form == questaal.FORMAT and "method" not in facts
    assert fermi == pytest.approx(float(lines[0].split()[1]) * rydberg)
    assert segments[0].energies[0, :10, 0] == pytest.approx([float(x) * rydberg for x in lines[3].split()])
    assert [s.label for s in segments] == ["Γ-M", "M-K", "K-Γ"] and [s.energies.shape[2] for s in segments] == [35, 26, 33]
    assert questaal.structure(path).composition.reduced_formula == "WSe2"


def test_mos2_vasprun_attaches_to_the_stored_2h_monolayer_by_structure(store_url: str, session: Session) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [MC2D_V4])
    files = band_files([MOS2])
    assert [str(f.relative_to(MOS2)) for f in files] == ["strain_100_nosoc/vasprun.xml", "strain_100_soc/EIGENVAL"]
    summary = attach_files(engine, files, match_stored, root=FILES)
    assert (summary.rows, summary.bands.inserted, summary.quarantined) == (2, 2, 0), summary.reasons
    stored = _stored(session)
    keys = {session.get(Entry, b.entry_id).source_key for b in stored}
    assert keys == {"MoS2-c63547f0"}, "both runs are the 2H monolayer MC2D has"
    nosoc, soc = sorted(stored, key=lambda b: b.method)
    assert (nosoc.method, soc.method) == ("PBE", "PBE+SOC")
    assert nosoc.provenance["file"] == "MoS2_vasp_jongmin01/strain_100_nosoc/vasprun.xml" and nosoc.provenance["code"] == "VASP"
    assert nosoc.provenance["attached_by"].startswith("structure matched entry") and nosoc.spin_channels == 2
    assert soc.provenance["spin_orbit"] is True and soc.spin_channels == 1
    energies = np.concatenate([np.asarray(s) for s in nosoc.energies["segments"]], axis=2)
    assert 1.6 < _gap(nosoc.fermi_level, energies) < 1.7, "MoS2 PBE gap"
    again = attach_files(engine, files, match_stored, root=FILES)
    assert (again.bands.inserted, again.bands.updated, again.bands.unchanged) == (0, 0, 2)
    engine.dispose()


def test_band_files_that_match_no_stored_structure_are_quarantined_with_the_reason(store_url: str, session: Session) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, "c2db", [C2DB_MOS2])
    vasprun = MOS2 / "strain_100_nosoc" / "vasprun.xml"
    summary = attach_files(engine, [vasprun, NBS2 / "NbS2.bands", WSE2 / "bnds.red"], match_stored)
    assert (summary.bands.inserted, summary.quarantined) == (0, 3)
    reasons = sorted(session.execute(select(Quarantine.reason)).scalars())
    assert any(r.startswith("not attached: no stored structure within 0.2 Å PDD EMD (nearest MoS2: entry") for r in reasons), reasons
    assert "not attached: no stored structure of formula NbS2" in reasons
    assert "method not stated in the file (Questaal bnds): name it in an index CSV row" in reasons
    engine.dispose()


def test_a_structure_matching_two_materials_waits_for_dedup(store_url: str, session: Session) -> None:
    """MC2D's 2H-MoS2 and the VASP run's own CONTCAR are two materials until dedup merges them."""
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [MC2D_V4])
    contcar = Structure.from_file(MOS2 / "strain_100_nosoc" / "CONTCAR")
    seed_store(session, [structure_record("MoS2-strain_100-CONTCAR", contcar)], CONTCAR_SOURCE)
    vasprun = MOS2 / "strain_100_nosoc" / "vasprun.xml"
    first = attach_files(engine, [vasprun], match_stored)
    assert first.quarantined == 1
    reason = session.execute(select(Quarantine.reason)).scalar_one()
    assert reason.startswith("not attached: 2 stored materials match within 0.2 Å PDD EMD") and "atlas2d dedup" in reason
    run_dedup(session)
    session.commit()
    second = attach_files(engine, [vasprun], match_stored)
    assert (second.bands.inserted, second.quarantined) == (1, 0)
    engine.dispose()


def test_questaal_bands_attach_through_an_index_row_naming_the_method(store_url: str, session: Session, tmp_path: Path) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [MC2D_V4])
    for name in ("bnds.red", "site.wse"):
        shutil.copy(WSE2 / name, tmp_path)
    (tmp_path / "index.csv").write_text("file,source,source_id,method,code\nbnds.red,mc2d,WSe2-3d52bc42,QSGW,Questaal\n")
    summary = ingest_index(engine, tmp_path / "index.csv")
    assert (summary.bands.inserted, summary.quarantined) == (1, 0) and summary.formats == {"Questaal bnds": 1}
    assert _stored(session)[0].method == "QSGW"
    engine.dispose()


def test_c2db_download_bands_with_and_without_spin_orbit_match_the_json(store_url: str, session: Session) -> None:
    document = json.loads(DOWNLOAD.read_text())
    bs = document["results-asr.bandstructure.json"]["kwargs"]["data"]
    gs = document["results-asr.gs.json"]["kwargs"]["data"]
    engine = make_engine(store_url)
    summary = ingest_files(engine, "c2db", [DOWNLOAD])
    assert (summary.inserted, summary.bands.inserted, summary.quarantined) == (1, 2, 0)
    stored = {b.method: b for b in _stored(session)}
    assert sorted(stored) == ["PBE", "PBE+SOC"]
    for method, key, gap in (("PBE", "bs_nosoc", gs["gap_nosoc"]), ("PBE+SOC", "bs_soc", gs["gap"])):
        bands = stored[method]
        shape, _, flat = bs[key]["energies"]["__ndarray__"]
        expected = np.asarray(flat).reshape(shape)
        expected = expected[None] if key == "bs_soc" else np.transpose(expected, (0, 2, 1))
        segments = [np.asarray(s) for s in bands.energies["segments"]]
        energies = np.concatenate([segments[0]] + [s[:, :, 1:] for s in segments[1:]], axis=2)
        assert bands.fermi_level == pytest.approx(bs[key]["efermi"])
        assert energies == pytest.approx(expected, abs=1e-5), "every k-point in path order, segment ends shared"
        assert gap == 0.0 and energies.min() < bands.fermi_level < energies.max(), "Be4 is a metal in C2DB, with and without SOC"
        assert bands.provenance["file_part"] == f"results-asr.bandstructure.json:{key}" and bands.provenance["code"] == "GPAW"
    assert stored["PBE+SOC"].provenance["spin_orbit"] is True and stored["PBE"].provenance["spin_orbit"] is False
    again = ingest_files(engine, "c2db", [DOWNLOAD])
    assert (again.unchanged, again.bands.unchanged, again.bands.updated) == (1, 2, 0)
    engine.dispose()


def test_cli_ingest_bands_attaches_folders_by_structure_and_names_what_it_quarantined(
    store_url: str, cli_env: str, atlas2d, tmp_path: Path  # noqa: ANN001
) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [MC2D_V4])
    engine.dispose()
    done = atlas2d("ingest", "bands", str(MOS2), str(WSE2), ATLAS2D_DATABASE_URL=cli_env, COLUMNS="220")
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("│ 5 file(s)"))
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells[1] == "structure match" and cells[3:] == ["5", "2", "0", "0", "3"]
    assert "VASP vasprun.xml" in cells[2] and "Questaal bnds" in cells[2]
    assert "method not stated in the file (Questaal bnds)" in done.stdout
    missing = atlas2d("ingest", "bands", str(tmp_path / "nothing"), ATLAS2D_DATABASE_URL=cli_env)
    assert missing.returncode == 1 and missing.stderr.strip() == f"error: no such file or folder: {tmp_path / 'nothing'}"
    (tmp_path / "notes.txt").write_text("not a band structure\n")
    empty = atlas2d("ingest", "bands", str(tmp_path), ATLAS2D_DATABASE_URL=cli_env)
    assert empty.returncode == 1 and "no band-structure file atlas2d reads" in empty.stderr


def test_a_c2db_download_named_in_an_index_row_is_refused_with_what_to_do(store_url: str, session: Session, tmp_path: Path) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, "c2db", [DOWNLOAD])
    shutil.copy(DOWNLOAD, tmp_path)
    (tmp_path / "index.csv").write_text(f"file,source,source_id,method,code\n{DOWNLOAD.name},c2db,Be4-09dd42ad034e,PBE,GPAW\n")
    summary = ingest_index(engine, tmp_path / "index.csv")
    assert summary.quarantined == 1
    reason = session.execute(select(Quarantine.reason)).scalar_one()
    assert reason.startswith("unreadable band file: a C2DB per-material download holds two band structures")
    engine.dispose()
