"""``atlas2d status --unmapped``: the raw fields of stored records that no adapter maps to a value."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy.orm import Session

from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.samples import SAMPLES
from atlas2d.ingest.sources.c2db_table import column_title
from atlas2d.ingest.sources.registry import registry
from atlas2d.ingest.unmapped import unmapped_fields
from atlas2d.schema.database import make_engine

C2DB = [*sorted((SAMPLES / "c2db").glob("*.structure.json")), SAMPLES / "c2db" / "c2db_web_table_sample.csv"]
EXPERIMENTAL = SAMPLES / "experimental" / "experimental_2d_monolayers.csv"
MODELS = SAMPLES / "tight-binding-generated" / "models.json"


def _ingest(store_url: str, source: str, paths: list[Path]) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, source, paths)
    engine.dispose()


def test_unmapped_lists_c2db_columns_without_a_property_and_leaves_mapped_ones_out(store_url: str, session: Session) -> None:
    _ingest(store_url, "c2db", C2DB)
    report = unmapped_fields(session, registry())
    c2db = {f.field: f.entries for f in report.fields if f.source == "c2db"}
    with C2DB[-1].open(encoding="utf-8") as handle:
        titles = [column_title(h) for h in next(csv.reader(handle))]
        rows = sum(1 for _ in handle)
    assert len(titles) == 99 and rows == 150
    assert c2db["Point group"] == c2db["Static total polarizability (x)"] == rows, "a table column without a property is listed"
    for mapped in ("Unique identifier", "Formula", "Band gap", "Gap wo. soc.", "Space group number", "Crystal type"):
        assert mapped not in c2db
    assert c2db["free_energy"] == c2db["calculator"] == 2 and c2db["initial_magmoms"] == 1, "ASE row fields the reader does not use"
    assert "cell" not in c2db and "key_value_pairs" not in c2db
    assert len([t for t in titles if t in c2db]) == 56
    assert report.undeclared == []


def test_a_new_column_of_the_experimental_csv_is_listed_and_an_undeclared_source_named(
    store_url: str, session: Session, tmp_path: Path
) -> None:
    lines = EXPERIMENTAL.read_text().splitlines()
    extended = tmp_path / "measured.csv"
    extended.write_text("\n".join([lines[0] + ",substrate", *(line + ",SiO2" for line in lines[1:])]) + "\n")
    _ingest(store_url, "experimental", [extended])
    _ingest(store_url, "tight-binding-generated", [MODELS])
    report = unmapped_fields(session, registry())
    assert [(f.source, f.field, f.entries) for f in report.fields] == [("experimental", "substrate", len(lines) - 1)]
    assert report.undeclared == ["tight-binding-generated"]


def test_cli_status_unmapped(store_url: str, cli_env: str, atlas2d) -> None:  # noqa: ANN001
    _ingest(store_url, "c2db", C2DB)
    run = atlas2d("status", "--unmapped", ATLAS2D_DATABASE_URL=cli_env, COLUMNS="200")
    assert run.returncode == 0, run.stderr
    assert "Raw fields no adapter maps" in run.stdout and "Point group" in run.stdout
    plain = atlas2d("status", ATLAS2D_DATABASE_URL=cli_env, COLUMNS="200")
    assert plain.returncode == 0 and "Raw fields no adapter maps" not in plain.stdout
