"""Ingest throughput per source: entries/second from file to committed rows.

Three parts. First, each source's bundled sample is replicated with perturbed source ids up to
``--records`` records (5,000 by default) in a temporary file of that source's format.
Second, every real file of the team's data folder (``atlas2d.testdata.SHARED_DATA``) is
ingested as it is, at full size: the C2DB web table (3,600 rows) and a per-material download,
the 2DMatPedia subset, MC2D v4, campi-v2 and Discover, and the GPAW band-structure index
(132 files attached to MC2D entries). Every file goes into a fresh database of a private
embedded PostgreSQL. The peer is the adapter alone (parse + harmonize, no database): the
ratio shows what the store (and, for records without structures, the linking rule) costs on
top of reading. Target: >= 1,000 entries/s for 2DMatPedia-style JSON lines. Third, all of
the data folder end to end in one store: every source's files, dedup (invariants, merging,
linking of records without structures), the GPAW band index and the loose band files of
``bands-files`` (attached by structure), band fingerprints; then every source ingested
again, which must change nothing.

    python benchmarks/ingest.py [--quick] [--records N] [--no-real] [--no-end-to-end] [--json PATH]
"""

from __future__ import annotations

import copy
import csv
import io
import json
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from atlas2d.api.console import print_table
from atlas2d.embeddings.structure.dedup import run_dedup
from atlas2d.embeddings.structure.match import match_stored
from atlas2d.ingest.band_records import BandRecord
from atlas2d.ingest.bandfiles.index import ingest_index
from atlas2d.ingest.bandfiles.loose import attach_files, band_files
from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.samples import SAMPLES
from atlas2d.ingest.sources.registry import adapter
from atlas2d.schema.database import make_engine, sqlalchemy_url, start_embedded
from atlas2d.schema.migrate import upgrade
from atlas2d.schema.models import BandStructure, Quarantine
from atlas2d.testdata import SHARED_DATA
from atlas2d.testdata.bench import benchmark_parser, report

TARGET_2DMATPEDIA_PER_S = 1000.0


def replicate_2dmatpedia(n: int, path: Path) -> None:
    """``n`` JSON lines from the real 2DMatPedia sample, ids made unique."""
    lines = [json.loads(line) for line in (SAMPLES / "2dmatpedia" / "2dmatpedia_sample.jsonl").read_text().splitlines()]
    with path.open("w") as out:
        for i in range(n):
            item = dict(lines[i % len(lines)], material_id=f"2dm-bench-{i}")
            out.write(json.dumps(item) + "\n")


def replicate_mc2d(n: int, path: Path) -> None:
    """``n`` MC2D v4 entries, ``structure_label`` made unique."""
    items = json.loads((SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json").read_text())
    path.write_text(json.dumps([dict(items[i % len(items)], structure_label=f"bench-{i}") for i in range(n)]))


def replicate_c2db(n: int, path: Path) -> None:
    """One ASE JSON database with ``n`` rows of the real C2DB rows, ``unique_id`` made unique."""
    rows = [json.loads(p.read_text())["1"] for p in sorted((SAMPLES / "c2db").glob("*.json"))]
    document: dict[str, Any] = {}
    for i in range(n):
        row = copy.deepcopy(rows[i % len(rows)])
        row["unique_id"] = f"bench{i:027d}"
        document[str(i + 1)] = row
    document["ids"] = list(range(1, n + 1))
    document["nextid"] = n + 1
    path.write_text(json.dumps(document))


def replicate_experimental(n: int, path: Path) -> None:
    """``n`` CSV rows of the experimental sample, each with a distinct DOI suffix."""
    rows = list(csv.DictReader(io.StringIO((SAMPLES / "experimental" / "experimental_2d_monolayers.csv").read_text())))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for i in range(n):
        writer.writerow(dict(rows[i % len(rows)], doi=f"{rows[i % len(rows)]['doi']}.bench{i}"))
    path.write_text(out.getvalue())


REAL_FILES: tuple[tuple[str, str, Path], ...] = (
    ("c2db_table", "c2db", SHARED_DATA / "c2db" / "c2db_web_table.csv"),
    ("c2db_download", "c2db", SHARED_DATA / "c2db" / "Be4-09dd42ad034e.row.json"),
    ("2dmatpedia_subset", "2dmatpedia", SHARED_DATA / "2dmatpedia" / "2dmatpedia_subset.jsonl"),
    ("mc2d_v4", "mc2d", SHARED_DATA / "mc2d" / "mc2d_v4_structures_sample.json"),
    ("mc2d_campi_v2", "mc2d", SHARED_DATA / "mc2d" / "mc2d_campi_v2_structure_2d.json"),
    ("mc2d_discover", "mc2d", SHARED_DATA / "mc2d" / "mc2d_discover_compounds.json"),
)
"""(figure key, source, file): the real files timed as they are."""

BANDS_INDEX = SHARED_DATA / "bands-gpaw" / "index.csv"


BUILDERS = {
    "2dmatpedia": (replicate_2dmatpedia, "bench.jsonl"),
    "mc2d": (replicate_mc2d, "bench.json"),
    "c2db": (replicate_c2db, "bench.json"),
    "experimental": (replicate_experimental, "bench.csv"),
}


def count_records(items: Iterable[object]) -> int:
    """Records a file holds: band records that share one entry (a C2DB download's bands without and with SOC) count once."""
    entries = (item.entry if isinstance(item, BandRecord) else item for item in items)
    return len({id(entry): entry for entry in entries})


def fresh_engine(admin: Engine, url: str, database: str) -> Engine:
    """A migrated, empty database ``database`` on the benchmark's server."""
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    engine = make_engine(url.replace("/postgres?", f"/{database}?"))
    upgrade(engine)
    return engine


def time_real_files(admin: Engine, url: str, figures: dict[str, float]) -> list[tuple[object, ...]]:
    """Each real file ingested whole into its own fresh database; the band index after MC2D v4."""
    rows: list[tuple[object, ...]] = []
    for key, source, path in REAL_FILES:
        start = time.perf_counter()
        parsed = count_records(adapter(source).read(path))
        parse_s = time.perf_counter() - start
        engine = fresh_engine(admin, url, f"real_{key}")
        start = time.perf_counter()
        summary = ingest_files(engine, source, [path])
        ingest_s = time.perf_counter() - start
        engine.dispose()
        assert summary.read == parsed, (key, summary, parsed)
        figures[f"real_{key}_records"] = summary.read
        figures[f"real_{key}_quarantined"] = summary.quarantined
        figures[f"real_{key}_ingest_s"] = ingest_s
        figures[f"real_{key}_entries_per_s"] = summary.read / ingest_s
        figures[f"real_{key}_parse_only_per_s"] = parsed / parse_s
        size = f"{path.stat().st_size / 1e6:.2f}"
        speeds = (summary.read / ingest_s, parsed / parse_s)
        rows.append((key, size, summary.read, summary.quarantined, ingest_s, *speeds))
    engine = fresh_engine(admin, url, "real_bands")
    ingest_files(engine, "mc2d", [SHARED_DATA / "mc2d" / "mc2d_v4_structures_sample.json"])
    start = time.perf_counter()
    bands = ingest_index(engine, BANDS_INDEX)
    bands_s = time.perf_counter() - start
    engine.dispose()
    figures["real_bands_gpaw_files"] = bands.rows
    figures["real_bands_gpaw_quarantined"] = bands.quarantined
    figures["real_bands_gpaw_ingest_s"] = bands_s
    figures["real_bands_gpaw_files_per_s"] = bands.rows / bands_s
    size = f"{sum(p.stat().st_size for p in BANDS_INDEX.parent.iterdir()) / 1e6:.2f}"
    rows.append(("bands_gpaw (index)", size, bands.rows, bands.quarantined, bands_s, bands.rows / bands_s, None))
    return rows


END_TO_END: tuple[tuple[str, tuple[Path, ...]], ...] = (
    ("c2db", tuple(sorted((SHARED_DATA / "c2db").glob("*.csv"))) + tuple(sorted((SHARED_DATA / "c2db").glob("*.json")))),
    ("2dmatpedia", (SHARED_DATA / "2dmatpedia" / "2dmatpedia_subset.jsonl",)),
    ("mc2d", tuple(sorted((SHARED_DATA / "mc2d").glob("*.json")))),
    ("experimental", (SHARED_DATA / "experimental" / "experimental_2d_monolayers.csv",)),
)
"""Every source file of the data folder, per source (poscar2d is a structure archive for tests, not a source)."""

MATERIALS_BY_SOURCES = text(
    """
    SELECT n, count(*) FROM (
        SELECT e.material_id, count(DISTINCT e.source_id) AS n FROM entry e WHERE e.material_id IS NOT NULL GROUP BY e.material_id
    ) m GROUP BY n ORDER BY n
    """
)


Rows = list[tuple[object, ...]]


def end_to_end(admin: Engine, url: str, figures: dict[str, float]) -> tuple[Rows, Rows, Rows]:
    """All of the data folder into one store, step by step; (step rows, quarantine reasons, band files attached by structure)."""
    from atlas2d.embeddings.bands.model import WEIGHTS, load_model
    from atlas2d.embeddings.bands.refresh import refresh as fingerprint

    engine = fresh_engine(admin, url, "real_all")
    rows: list[tuple[object, ...]] = []
    total = time.perf_counter()

    def step(name: str, items: int, quarantined: int, started: float) -> None:
        seconds = time.perf_counter() - started
        figures[f"e2e_{name}_s"] = seconds
        figures[f"e2e_{name}_items"] = items
        rows.append((name, items, quarantined, seconds))

    for source, files in END_TO_END:
        started = time.perf_counter()
        summary = ingest_files(engine, source, list(files))
        step(f"ingest_{source}", summary.read, summary.quarantined, started)
    with Session(engine) as session:
        started = time.perf_counter()
        dedup = run_dedup(session)
        session.commit()
        step("dedup", dedup.structures, 0, started)
    started = time.perf_counter()
    bands = ingest_index(engine, BANDS_INDEX)
    step("bands_gpaw_index", bands.rows, bands.quarantined, started)
    started = time.perf_counter()
    loose = attach_files(engine, band_files([SHARED_DATA / "bands-files"]), match_stored, root=SHARED_DATA / "bands-files")
    step("bands_files_by_structure", loose.rows, loose.quarantined, started)
    with Session(engine) as session:
        started = time.perf_counter()
        written = fingerprint(session, load_model(WEIGHTS, "auto"))
        step("fingerprints", written, 0, started)
    figures["e2e_total_s"] = time.perf_counter() - total
    rows.append(("total", None, None, figures["e2e_total_s"]))
    started = time.perf_counter()
    changed = 0
    for source, files in END_TO_END:
        again = ingest_files(engine, source, list(files))
        changed += again.inserted + again.updated
    step("rerun_all_sources", changed, 0, started)
    figures["e2e_rerun_changed_entries"] = changed
    with Session(engine) as session:
        spans = {n: count for n, count in session.execute(MATERIALS_BY_SOURCES)}
        attached = session.execute(
            select(BandStructure.provenance["file"].astext, BandStructure.method, BandStructure.provenance["attached_by"].astext)
            .where(BandStructure.provenance["attached_by"].astext.like("structure matched%"))
            .order_by(BandStructure.id)
        ).all()
        reasons = session.execute(
            select(Quarantine.source_name, Quarantine.reason, func.count())
            .group_by(Quarantine.source_name, Quarantine.reason)
            .order_by(Quarantine.source_name, func.count().desc())
        ).all()
    for n, count in spans.items():
        figures[f"e2e_materials_in_{n}_sources"] = count
    figures["e2e_quarantined"] = sum(n for _, _, n in reasons)
    engine.dispose()
    figures["e2e_bands_files_attached"] = len(attached)
    return rows, [tuple(r) for r in reasons], [tuple(r) for r in attached]


def main() -> None:
    parser = benchmark_parser(__doc__, "500 records per source, and the real files whole")
    parser.add_argument("--records", type=int, default=5000, help="records per source (default 5000)")
    parser.add_argument("--no-real", action="store_true", help="skip the real files of the team's data folder")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip ingesting all of the data folder into one store")
    args = parser.parse_args()
    n = 500 if args.quick else args.records
    figures: dict[str, float] = {"records_per_source": n}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        url = start_embedded(Path(tmp) / "pgdata", database="postgres")
        admin = create_engine(sqlalchemy_url(url), isolation_level="AUTOCOMMIT")
        for source, (build, name) in BUILDERS.items():
            path = Path(tmp) / f"{source}-{name}"
            build(n, path)
            start = time.perf_counter()
            parsed = sum(1 for _ in adapter(source).read(path))
            parse_s = time.perf_counter() - start
            engine = fresh_engine(admin, url, f"bench_{source.replace('-', '_')}")
            start = time.perf_counter()
            summary = ingest_files(engine, source, [path])
            ingest_s = time.perf_counter() - start
            engine.dispose()
            assert summary.inserted == parsed == n, (source, summary, parsed)
            key = source.split("-")[0]
            figures[f"{key}_entries_per_s"] = n / ingest_s
            figures[f"{key}_parse_only_per_s"] = n / parse_s
            figures[f"{key}_store_overhead_ratio"] = ingest_s / parse_s
            rows.append((source, n, ingest_s, n / ingest_s, n / parse_s, ingest_s / parse_s))
        real = time_real_files(admin, url, figures) if not args.no_real and SHARED_DATA.exists() else []
        e2e, reasons, attached = end_to_end(admin, url, figures) if not args.no_end_to_end and SHARED_DATA.exists() else ([], [], [])
        admin.dispose()
    figures["target_2dmatpedia_entries_per_s"] = TARGET_2DMATPEDIA_PER_S
    figures["meets_target_2dmatpedia"] = float(figures["2dmatpedia_entries_per_s"] >= TARGET_2DMATPEDIA_PER_S)
    print_table(
        ["source", "records", "ingest s", "entries/s", "parse-only/s (peer)", "ingest/parse time"],
        rows,
        title="Ingest throughput (file -> committed rows, batches of 500)",
    )
    if real:
        print_table(
            ["file", "MB", "records", "quarantined", "ingest s", "entries/s", "parse-only/s (peer)"],
            real,
            title="Real files at full size (file -> committed rows)",
        )
    elif not args.no_real:
        print(f"real files skipped: no data folder at {SHARED_DATA} (set ATLAS2D_SHARED_DATA)")
    if e2e:
        title = "All of the data folder, end to end, one store"
        print_table(["step", "records, structures or files", "quarantined", "s"], e2e, title=title)
        spans = ", ".join(f"{k.split('_')[3]} source(s): {int(v)}" for k, v in figures.items() if k.startswith("e2e_materials_in_"))
        print(f"materials by number of sources: {spans}; a re-run changed {int(figures['e2e_rerun_changed_entries'])} entries")
        print_table(["source", "quarantine reason", "records"], reasons, title="Quarantined from the real files")
        print_table(["file", "method", "attached by"], attached, title="Band files attached by structure")
    print(f"2DMatPedia-style JSON lines: {figures['2dmatpedia_entries_per_s']:.0f} entries/s (target >= {TARGET_2DMATPEDIA_PER_S:.0f})")
    report(figures, args.json)


if __name__ == "__main__":
    main()
