"""Hostile input never crashes ``atlas2d ingest`` and never loses a record.

The seeded corpus of ``atlas2d.testdata.fuzz_ingest`` (every hostile case of every format at
least once, a few hundred records) goes through the real command line, one run per source;
every record must end up stored or quarantined, every good record stored, no hostile one.
``benchmarks/ingest_fuzz.py`` runs the full-size corpus.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from atlas2d.ingest.bandfiles.index import ingest_index
from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.samples import SAMPLES
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import Entry, Quarantine
from atlas2d.testdata.fuzz_ingest import account, ingest_corpus, write_corpus

QUICK_SIZE = 600
"""Records the CI corpus holds at least (every case of every format once gives about 650)."""


def test_hostile_corpus_is_stored_or_quarantined(store_url: str, tmp_path: Path, atlas2d: Callable[..., CompletedProcess[str]]) -> None:
    files = ingest_corpus(seed=18, size=QUICK_SIZE)
    for source, paths in write_corpus(files, tmp_path / "corpus").items():
        result = atlas2d("ingest", source, *map(str, paths), ATLAS2D_DATABASE_URL=store_url)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        assert "Traceback" not in output
    engine = make_engine(store_url)
    tally = account(engine, files)
    engine.dispose()
    assert tally.given >= QUICK_SIZE
    assert tally.problems == [], "\n".join(tally.problems)
    assert (tally.lost, tally.good_missing, tally.hostile_stored, tally.reader_bugs) == (0, 0, 0, 0)
    assert tally.stored > 0 and tally.quarantine_rows > 0


def test_a_record_the_database_refuses_is_quarantined_and_its_batch_stored(store_url: str, tmp_path: Path) -> None:
    """A real CHECK constraint refuses one record of a batch: the other four are stored, it is quarantined with the database's reason."""
    items = json.loads((SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json").read_text())[:5]
    refused = items[2]["structure_label"]
    path = tmp_path / "mc2d.json"
    path.write_text(json.dumps(items))
    engine = make_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE entry ADD CONSTRAINT test_refuses_one CHECK (source_key <> '{refused}')"))
    summary = ingest_files(engine, "mc2d", [path])
    assert (summary.inserted, summary.quarantined) == (4, 1)
    with Session(engine) as session:
        keys = set(session.execute(select(Entry.source_key)).scalars())
        row = session.execute(select(Quarantine)).scalar_one()
    assert keys == {item["structure_label"] for item in items} - {refused}
    assert row.locator == "mc2d.json[2]"
    assert row.reason.startswith("refused by the database: CheckViolation")
    assert "test_refuses_one" in row.reason
    assert refused in row.payload
    engine.dispose()


def test_hostile_band_index_rows_are_quarantined_one_by_one(store_url: str, tmp_path: Path) -> None:
    """A BOM, a row over the CSV field limit, a short row and band files nested 5,000 deep or of the wrong shape."""
    item = json.loads((SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json").read_text())[0]
    entries = tmp_path / "mc2d.json"
    entries.write_text(json.dumps([item]))
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [entries])
    (tmp_path / "deep.json").write_text('{"path": {"kpts": ' + "[" * 5000 + "]" * 5000 + "}}")
    (tmp_path / "wrong.json").write_text('{"energies": {"__ndarray__": [[1], "float64", [1.0]]}, "path": 1, "reference": "x"}')
    key = item["structure_label"]
    index = tmp_path / "index.csv"
    index.write_text(
        "\ufefffile,source,source_id,method,code\n"
        f"deep.json,mc2d,{key},PBE,gpaw\n"
        f"wrong.json,mc2d,{key},PBE,gpaw\n"
        f"{'x' * 200_000},mc2d,{key},PBE,gpaw\n"
        "short.json,mc2d\n"
    )
    summary = ingest_index(engine, index)
    assert (summary.rows, summary.quarantined) == (4, 4)
    with Session(engine) as session:
        reasons = dict(session.execute(select(Quarantine.locator, Quarantine.reason).where(Quarantine.source_name == "bands")).all())
    engine.dispose()
    assert set(reasons) == {"index.csv:2", "index.csv:3", "index.csv:4", "index.csv:5"}
    assert "field larger than field limit" in reasons["index.csv:4"]
