"""``preferred_value``: the value each ``_atlas2d_`` field serves, chosen by ingest and backfilled by migration 0006.

The expected choices are written out here from the rules (measured first, then G0W0, HSE06,
PBE, then any other method; per-method fields only their method), never read from the
store, so a wrong rule in the refresh statement fails.
"""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.preferred import EVERYTHING, PREFERENCES, refresh_preferred
from atlas2d.ingest.records import Record, SourceInfo, Value
from atlas2d.ingest.store import ensure_source, write_records
from atlas2d.schema.database import make_engine
from atlas2d.schema.migrate import MIGRATIONS, upgrade
from atlas2d.schema.models import Entry, PreferredValue
from atlas2d.testdata import SHARED_DATA

SOURCE = SourceInfo("test", "test")


def _gap(value: float, method: str) -> Value:
    return Value("band_gap", value, "eV", method)


RECORDS = [
    Record(
        "all-methods",
        "MoS2",
        {"k": 1},
        values=[
            _gap(1.7, "PBE"),
            _gap(2.1, "HSE06"),
            _gap(2.5, "G0W0"),
            _gap(1.9, "expt:PL"),
            _gap(1.8, "expt:ARPES"),
            Value("formation_energy", -0.5, "eV/atom", "PBE"),
        ],
    ),
    Record("hse-and-pbe", "WS2", {"k": 2}, values=[_gap(1.8, "PBE"), _gap(2.3, "HSE06")]),
    Record("other-method-only", "BN", {"k": 3}, values=[_gap(4.5, "GLLBSC"), Value("formation_energy", -0.9, "eV/atom", "optB88-vdW")]),
    Record("text-only", "C", {"k": 4}, values=[Value("band_gap_type", None, None, "PBE", value_text="direct")]),
]

EXPECTED = {
    ("all-methods", "band_gap"): (1.8, "expt:ARPES"),
    ("all-methods", "band_gap_expt"): (1.8, "expt:ARPES"),
    ("all-methods", "band_gap_g0w0"): (2.5, "G0W0"),
    ("all-methods", "band_gap_hse06"): (2.1, "HSE06"),
    ("all-methods", "band_gap_pbe"): (1.7, "PBE"),
    ("all-methods", "formation_energy"): (-0.5, "PBE"),
    ("hse-and-pbe", "band_gap"): (2.3, "HSE06"),
    ("hse-and-pbe", "band_gap_hse06"): (2.3, "HSE06"),
    ("hse-and-pbe", "band_gap_pbe"): (1.8, "PBE"),
    ("other-method-only", "band_gap"): (4.5, "GLLBSC"),
}
"""Measured beats every calculation (ties: method name order); a formation energy is PBE's or
unknown; a method outside the preference only fills ``band_gap``; no numeric value, no row."""


def _stored(session: Session) -> dict[tuple[str, str], tuple[float, str]]:
    """Every served (entry key, field) -> (value, method) in the table."""
    rows = session.execute(select(Entry.source_key, PreferredValue).join(PreferredValue, PreferredValue.entry_id == Entry.id))
    return {
        (key, p.field): (getattr(row, p.field), getattr(row, f"{p.field}_method"))
        for key, row in rows
        for p in PREFERENCES
        if getattr(row, p.field) is not None
    }


def test_every_preference_has_its_two_columns() -> None:
    columns = {c.name for c in PreferredValue.__table__.columns} - {"entry_id"}
    assert columns == {name for p in PREFERENCES for name in (p.field, f"{p.field}_method")}


def test_refresh_chooses_by_the_preference_rules(session: Session) -> None:
    write_records(session, ensure_source(session, SOURCE), RECORDS)
    refresh_preferred(session)
    assert _stored(session) == EXPECTED


def test_refresh_touches_only_the_current_transactions_entries(session: Session) -> None:
    source_id = ensure_source(session, SOURCE)
    write_records(session, source_id, RECORDS[:1])
    session.commit()
    write_records(session, source_id, RECORDS[1:2])
    refresh_preferred(session)
    assert {key for key, _ in _stored(session)} == {"hse-and-pbe"}
    refresh_preferred(session, since=EVERYTHING)
    assert {key for key, _ in _stored(session)} == {"all-methods", "hse-and-pbe"}


def _lines(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_ingest_keeps_the_table_in_step_with_reingested_records(store_url: str, tmp_path: Path) -> None:
    """A changed value is updated, a removed one deleted, an untouched entry left alone, by the pipeline itself."""
    real = [json.loads(line) for line in (SHARED_DATA / "2dmatpedia" / "2dmatpedia_subset.jsonl").open().readlines()[:3]]
    engine = make_engine(store_url)
    ingest_files(engine, "2dmatpedia", [_lines(tmp_path / "first.jsonl", real)])
    with Session(engine) as session:
        first = _stored(session)
    assert first == {(r["material_id"], f): (r["bandgap"], "PBE") for r in real for f in ("band_gap", "band_gap_pbe")}

    changed = [dict(real[0], bandgap=9.5), {k: v for k, v in real[1].items() if k != "bandgap"}, real[2]]
    ingest_files(engine, "2dmatpedia", [_lines(tmp_path / "second.jsonl", changed)])
    with Session(engine) as session:
        second = _stored(session)
    engine.dispose()
    a, b, c = (r["material_id"] for r in real)
    assert second == {
        (a, "band_gap"): (9.5, "PBE"),
        (a, "band_gap_pbe"): (9.5, "PBE"),
        (c, "band_gap"): first[(c, "band_gap")],
        (c, "band_gap_pbe"): first[(c, "band_gap_pbe")],
    }


def test_migration_0006_backfills_the_stored_entries(store_url: str) -> None:
    engine = make_engine(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    with Session(engine) as session:
        write_records(session, ensure_source(session, SOURCE), RECORDS)
        session.commit()
    assert upgrade(engine) == ("0005", ScriptDirectory.from_config(config).get_current_head())  # 0006 and any later ones
    with Session(engine) as session:
        assert _stored(session) == EXPECTED
        # the rows the ingest batches of a later run write go through the same table
        write_records(session, ensure_source(session, SOURCE), [Record("late", "MoS2", {"k": 9}, values=[_gap(1.1, "PBE")])])
        refresh_preferred(session)
        assert _stored(session)[("late", "band_gap")] == (1.1, "PBE")
    engine.dispose()
