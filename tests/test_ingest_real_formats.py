"""Real C2DB, 2DMatPedia and MC2D files at full size: every record read, values as the file states them.

Expected values come from the files through plain ``csv``/``json``, never through the
adapters, so an adapter that misreads a column, a unit or a method fails here.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atlas2d.ingest.pipeline import IngestSummary, ingest_files
from atlas2d.ingest.sources.c2db_table import column_title
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import Entry, PropertyValue, Quarantine, Source
from atlas2d.testdata import SHARED_DATA

C2DB_TABLE = SHARED_DATA / "c2db" / "c2db_web_table.csv"
C2DB_DOWNLOAD = SHARED_DATA / "c2db" / "Be4-09dd42ad034e.row.json"
TWODMATPEDIA = SHARED_DATA / "2dmatpedia" / "2dmatpedia_subset.jsonl"
CAMPI = SHARED_DATA / "mc2d" / "mc2d_campi_v2_structure_2d.json"
DISCOVER = SHARED_DATA / "mc2d" / "mc2d_discover_compounds.json"

pytestmark = pytest.mark.skipif(not C2DB_TABLE.exists(), reason="needs ../shared/data")


def _ingest(store_url: str, source: str, path: Path) -> IngestSummary:
    engine = make_engine(store_url)
    try:
        return ingest_files(engine, source, [path])
    finally:
        engine.dispose()


def _values(session: Session, source: str, key: str, name: str) -> dict[str, tuple[float | str | None, str | None]]:
    rows = session.execute(
        select(PropertyValue.method, PropertyValue.value, PropertyValue.value_text, PropertyValue.unit)
        .join(Entry, Entry.id == PropertyValue.entry_id)
        .join(Source)
        .where(Source.name == source, Entry.source_key == key, PropertyValue.name == name)
    ).all()
    return {method: (number if number is not None else text, unit) for method, number, text, unit in rows}


def _table_rows() -> list[dict[str, str]]:
    with C2DB_TABLE.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = [column_title(h) for h in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def test_c2db_web_table_every_row_and_gap_methods(store_url: str, session: Session) -> None:
    summary = _ingest(store_url, "c2db", C2DB_TABLE)
    rows = _table_rows()
    assert summary.formats == {"C2DB web-table CSV": 1}
    assert summary.read == len(rows) == 3600 and summary.quarantined == 0
    with_hse = next(r for r in rows if r["Band gap (HSE06)"] != "-" and r["Band gap (G₀W₀)"] != "-")
    gaps = _values(session, "c2db", with_hse["Unique identifier"], "band_gap")
    assert gaps == {
        "PBE+SOC": (pytest.approx(float(with_hse["Band gap"])), "eV"),
        "PBE": (pytest.approx(float(with_hse["Gap wo. soc."])), "eV"),
        "HSE06": (pytest.approx(float(with_hse["Band gap (HSE06)"])), "eV"),
        "G0W0": (pytest.approx(float(with_hse["Band gap (G₀W₀)"])), "eV"),
    }
    no_hse = next(r for r in rows if r["Band gap (HSE06)"] == "-")
    assert "HSE06" not in _values(session, "c2db", no_hse["Unique identifier"], "band_gap")
    stiff = next(r for r in rows if r["Stiffness tensor, 11-component"] != "-")
    assert _values(session, "c2db", stiff["Unique identifier"], "stiffness_11") == {
        "PBE": (pytest.approx(float(stiff["Stiffness tensor, 11-component"])), "N/m")
    }
    mass = next(r for r in rows if r["Valence band effective mass, direction 1"] != "-")
    assert _values(session, "c2db", mass["Unique identifier"], "effective_mass_hole_1")["PBE+SOC"] == (
        pytest.approx(float(mass["Valence band effective mass, direction 1"])),
        "m_e",
    )
    entry = session.execute(select(Entry).where(Entry.source_key == rows[0]["Unique identifier"])).scalar_one()
    assert entry.raw["Calculator"] == rows[0]["Calculator"], "an unmapped column stays in the raw record"
    assert entry.raw["Band gap (G₀W₀)"] is None, "'-' is unknown"


def test_c2db_download_values_and_a_rerun_changes_nothing(store_url: str, session: Session) -> None:
    data = json.loads(C2DB_DOWNLOAD.read_text())
    gs = data["results-asr.gs.json"]["kwargs"]["data"]
    hull = data["results-asr.convex_hull.json"]["kwargs"]["data"]
    first = _ingest(store_url, "c2db", C2DB_DOWNLOAD)
    assert first.formats == {"C2DB per-material download (ASR JSON)": 1} and first.inserted == 1
    assert _values(session, "c2db", "Be4-09dd42ad034e", "total_energy") == {"PBE": (pytest.approx(gs["etot"]), "eV")}
    assert _values(session, "c2db", "Be4-09dd42ad034e", "energy_above_hull") == {"PBE": (pytest.approx(hull["ehull"]), "eV/atom")}
    assert _values(session, "c2db", "Be4-09dd42ad034e", "work_function")["PBE"][0] == pytest.approx(gs["workfunction"])
    again = _ingest(store_url, "c2db", C2DB_DOWNLOAD)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)


def test_2dmatpedia_real_lines_with_units(store_url: str, session: Session) -> None:
    lines = [json.loads(line) for line in TWODMATPEDIA.read_text().splitlines()]
    summary = _ingest(store_url, "2dmatpedia", TWODMATPEDIA)
    assert summary.read == len(lines) == 1000 and summary.quarantined == 0
    item = next(i for i in lines if i.get("exfoliation_energy_per_atom") is not None)
    key = item["material_id"]
    assert _values(session, "2dmatpedia", key, "exfoliation_energy") == {
        "optB88-vdW": (pytest.approx(item["exfoliation_energy_per_atom"]), "eV/atom")
    }
    assert _values(session, "2dmatpedia", key, "band_gap") == {"PBE": (pytest.approx(item["bandgap"]), "eV")}
    missing = next(i for i in lines if "decomposition_energy" not in i)
    assert _values(session, "2dmatpedia", missing["material_id"], "decomposition_energy") == {}


def test_mc2d_campi_binding_energies_are_converted_to_mev(store_url: str, session: Session) -> None:
    items = json.loads(CAMPI.read_text())
    summary = _ingest(store_url, "mc2d", CAMPI)
    assert summary.formats == {"MC2D campi-v2 structure_2d.json": 1}
    assert summary.read == len(items) and summary.quarantined == 0
    item = next(i for i in items if len(i["all_3D_parents"]) == 1 and i["all_3D_parents"][0].get("binding_energy_df2"))
    ev_per_a2 = item["all_3D_parents"][0]["binding_energy_df2"]["value"]
    stored = _values(session, "mc2d", item["as_extracted_2D_structure_uuid"], "binding_energy")
    assert stored["vdW-DF2"] == (pytest.approx(ev_per_a2 * 1000), "meV/Å^2")
    gapped = next(i for i in items if i.get("band_gap"))
    assert _values(session, "mc2d", gapped["as_extracted_2D_structure_uuid"], "band_gap") == {
        "PBE": (pytest.approx(gapped["band_gap"]["value"]), "eV")
    }


def test_mc2d_discover_file_keeps_every_record(store_url: str, session: Session) -> None:
    compounds = json.loads(DISCOVER.read_text())["compounds"]
    summary = _ingest(store_url, "mc2d", DISCOVER)
    unique = {c["structure_2D"] for c in compounds}
    assert summary.read == len(compounds) == 860
    assert summary.inserted == len(unique) and summary.quarantined == len(compounds) - len(unique) == 4
    reasons = session.execute(select(Quarantine.reason)).scalars().all()
    assert all(r.startswith("duplicate source id") for r in reasons)
    item = next(c for c in compounds if c.get("fermi_energy") is not None)
    assert _values(session, "mc2d", item["structure_2D"], "fermi_level") == {"PBE": (pytest.approx(item["fermi_energy"]), "eV")}
    be = item["binding_energy_per_substructure_per_unit_area_df2"]["value"]
    assert _values(session, "mc2d", item["structure_2D"], "binding_energy")["vdW-DF2"][0] == pytest.approx(be * 1000)
    assert session.execute(select(func.count()).select_from(Entry)).scalar_one() == len(unique)


def test_a_broken_web_table_row_is_quarantined_with_its_reason(store_url: str, session: Session, tmp_path: Path) -> None:
    lines = C2DB_TABLE.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "c2db_web_table.csv"
    rows = [lines[0], lines[1], lines[2].rsplit(",", 3)[0], lines[3].replace(",0.", ",abc", 1)]
    broken.write_text("\n".join(rows) + "\n", encoding="utf-8")
    summary = _ingest(store_url, "c2db", broken)
    assert (summary.read, summary.inserted, summary.quarantined) == (3, 1, 2)
    reasons = sorted(session.execute(select(Quarantine.reason)).scalars())
    assert "fields, the header" in reasons[1] or "fields, the header" in reasons[0]
    assert any("is not a number" in r for r in reasons)
