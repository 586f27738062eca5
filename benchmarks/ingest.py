"""Ingest throughput per source: entries/second from file to committed rows.

Two parts. First, each source's bundled sample is replicated with perturbed source ids up to
``--records`` records (5,000 by default) in a temporary file of that source's format.
Second, every real file of the team's data folder (``atlas2d.testdata.SHARED_DATA``) is
ingested as it is, at full size: the C2DB web table (3,600 rows) and a per-material download,
the 2DMatPedia subset, MC2D v4, campi-v2 and Discover, and the GPAW band-structure index
(132 files attached to MC2D entries). Every file goes into a fresh database of a private
embedded PostgreSQL. The peer is the adapter alone (parse + harmonize, no database): the
ratio shows what the store (and, for records without structures, the linking rule) costs on
top of reading. Target: >= 1,000 entries/s for 2DMatPedia-style JSON lines.

    python benchmarks/ingest.py [--quick] [--records N] [--no-real] [--json PATH]
"""

from __future__ import annotations

import copy
import csv
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from atlas2d.api.console import print_table
from atlas2d.ingest.bandfiles.index import ingest_index
from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.samples import SAMPLES
from atlas2d.ingest.sources.registry import adapter
from atlas2d.schema.database import make_engine, sqlalchemy_url, start_embedded
from atlas2d.schema.migrate import upgrade
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
        parsed = sum(1 for _ in adapter(source).read(path))
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


def main() -> None:
    parser = benchmark_parser(__doc__, "500 records per source, and the real files whole")
    parser.add_argument("--records", type=int, default=5000, help="records per source (default 5000)")
    parser.add_argument("--no-real", action="store_true", help="skip the real files of the team's data folder")
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
    print(f"2DMatPedia-style JSON lines: {figures['2dmatpedia_entries_per_s']:.0f} entries/s (target >= {TARGET_2DMATPEDIA_PER_S:.0f})")
    report(figures, args.json)


if __name__ == "__main__":
    main()
