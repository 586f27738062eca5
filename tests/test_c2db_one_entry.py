"""One C2DB uid is one entry whichever C2DB files hold it: web table, ASE row, per-material download.

Expected values come from the files through plain ``csv``/``json``; both orders of ingest
must give the same entry, and re-running either file changes nothing.
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
from atlas2d.schema.models import BandStructure, Entry, PropertyValue, Structure
from atlas2d.testdata import SHARED_DATA

C2DB = SHARED_DATA / "c2db"
TABLE = C2DB / "c2db_web_table.csv"
ROW = C2DB / "MoS2-165798ab5e18.structure.json"
DOWNLOAD = C2DB / "Be4-09dd42ad034e.row.json"
UID = "MoS2-165798ab5e18"

pytestmark = pytest.mark.skipif(not TABLE.exists(), reason="needs ../shared/data")


def _ingest(store_url: str, path: Path) -> IngestSummary:
    engine = make_engine(store_url)
    try:
        return ingest_files(engine, "c2db", [path])
    finally:
        engine.dispose()


def _table_with(tmp_path: Path, uid: str) -> tuple[Path, dict[str, str]]:
    """The web table's header and the one real row of ``uid`` as a file of its own."""
    with TABLE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    row = next(r for r in rows[1:] if uid in r)
    path = tmp_path / "c2db_web_table.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([rows[0], row])
    return path, dict(zip((column_title(h) for h in rows[0]), row, strict=True))


def _values(session: Session, key: str) -> dict[tuple[str, str], float | str | None]:
    rows = session.execute(
        select(PropertyValue.name, PropertyValue.method, PropertyValue.value, PropertyValue.value_text)
        .join(Entry, Entry.id == PropertyValue.entry_id)
        .where(Entry.source_key == key)
    ).all()
    return {(name, method): number if number is not None else text for name, method, number, text in rows}


@pytest.mark.parametrize("order", ["table first", "row first"])
def test_web_table_row_and_ase_row_of_one_uid_are_one_entry_with_both_parts(
    store_url: str, session: Session, tmp_path: Path, order: str
) -> None:
    table, row = _table_with(tmp_path, UID)
    energy = json.loads(ROW.read_text())["1"]["energy"]
    files = [table, ROW] if order == "table first" else [ROW, table]
    first, second = (_ingest(store_url, path) for path in files)
    assert first.inserted == 1 and (second.inserted, second.updated) == (0, 1)
    entry = session.execute(select(Entry).where(Entry.source_key == UID)).scalar_one()
    assert sorted(entry.raw) == ["C2DB ASE database rows", "C2DB web-table CSV"]
    assert entry.raw["C2DB web-table CSV"]["Unique identifier"] == UID and entry.raw["C2DB ASE database rows"]["energy"] == energy
    values = _values(session, UID)
    assert values[("formation_energy", "PBE")] == pytest.approx(float(row["Heat of formation"])), "a table-only value stays"
    assert values[("band_gap", "PBE")] == pytest.approx(float(row["Gap wo. soc."]))
    assert values[("total_energy", "PBE")] == pytest.approx(energy), "the ASE row's unrounded energy wins over the table's"
    assert session.execute(select(func.count()).select_from(Structure).where(Structure.entry_id == entry.id)).scalar_one() == 1
    assert entry.space_group == int(row["Space group number"])
    for path in files:
        again = _ingest(store_url, path)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1), path.name
    assert session.execute(select(func.count()).select_from(Entry)).scalar_one() == 1


@pytest.mark.parametrize("order", ["table first", "download first"])
def test_download_and_web_table_row_of_one_uid_keep_the_download_bands(
    store_url: str, session: Session, tmp_path: Path, order: str
) -> None:
    document = json.loads(DOWNLOAD.read_text())
    gs = document["results-asr.gs.json"]["kwargs"]["data"]
    # Be4-09dd42ad034e is among the table's kept-aside uids: a row in the table's own columns
    # carries the values C2DB shows for it (PROVENANCE.md: total energy -13.11 eV, gap 0).
    table = tmp_path / "c2db_web_table.csv"
    table.write_text(
        "Formula ✕,Unique identifier ✕,Band gap ✕,Energy ✕,Band gap (HSE06) ✕\nBe4,Be4-09dd42ad034e,0.000,-13.110,-\n",
        encoding="utf-8",
    )
    files = [table, DOWNLOAD] if order == "table first" else [DOWNLOAD, table]
    for path in files:
        _ingest(store_url, path)
    entry = session.execute(select(Entry).where(Entry.source_key == "Be4-09dd42ad034e")).scalar_one()
    assert sorted(entry.raw) == ["C2DB per-material download (ASR JSON)", "C2DB web-table CSV"]
    assert _values(session, entry.source_key)[("total_energy", "PBE")] == pytest.approx(gs["etot"])
    methods = session.execute(select(BandStructure.method).where(BandStructure.entry_id == entry.id)).scalars().all()
    assert sorted(methods) == ["PBE", "PBE+SOC"]
    for path in files:
        again = _ingest(store_url, path)
        assert (again.inserted, again.updated, again.unchanged, again.bands.updated) == (0, 0, 1, 0), path.name


def test_parts_of_one_uid_in_one_run_are_combined_but_a_uid_twice_in_one_file_is_quarantined(
    store_url: str, session: Session, tmp_path: Path
) -> None:
    table, _ = _table_with(tmp_path, UID)
    engine = make_engine(store_url)
    both = ingest_files(engine, "c2db", [table, ROW])
    assert (both.inserted, both.updated, both.quarantined) == (1, 1, 0)
    entry = session.execute(select(Entry).where(Entry.source_key == UID)).scalar_one()
    assert sorted(entry.raw) == ["C2DB ASE database rows", "C2DB web-table CSV"]
    lines = table.read_text(encoding="utf-8").splitlines()
    twice = tmp_path / "twice.csv"
    twice.write_text("\n".join([lines[0], lines[1], lines[1]]) + "\n", encoding="utf-8")
    repeated = ingest_files(engine, "c2db", [twice])
    engine.dispose()
    assert repeated.quarantined == 1 and repeated.reasons == {"duplicate source id 'MoS2-165798ab5e18' (first at twice.csv": 1}
