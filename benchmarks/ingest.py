"""Ingest throughput per source: entries/second from file to committed rows.

The bundled samples are small, so each source's sample is replicated with perturbed source
ids up to ``--records`` records (5,000 by default) in a temporary file of that source's real
format. Every source is ingested into a fresh database of a private embedded PostgreSQL.
The peer is the adapter alone (parse + harmonize, no database): the ratio shows what the
store costs on top of reading. Target: >= 1,000 entries/s for 2DMatPedia-style JSON lines.

    python benchmarks/ingest.py [--quick] [--records N] [--json PATH]
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

from sqlalchemy import create_engine, text

from atlas2d.api.console import print_table
from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.samples import SAMPLES
from atlas2d.ingest.sources.registry import adapter
from atlas2d.schema.database import make_engine, sqlalchemy_url, start_embedded
from atlas2d.schema.migrate import upgrade
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


BUILDERS = {
    "2dmatpedia": (replicate_2dmatpedia, "bench.jsonl"),
    "mc2d": (replicate_mc2d, "bench.json"),
    "c2db": (replicate_c2db, "bench.json"),
    "experimental": (replicate_experimental, "bench.csv"),
}


def main() -> None:
    parser = benchmark_parser(__doc__, "500 records per source")
    parser.add_argument("--records", type=int, default=5000, help="records per source (default 5000)")
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
            database = f"bench_{source.replace('-', '_')}"
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
                conn.execute(text(f'CREATE DATABASE "{database}"'))
            engine = make_engine(url.replace("/postgres?", f"/{database}?"))
            upgrade(engine)
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
        admin.dispose()
    figures["target_2dmatpedia_entries_per_s"] = TARGET_2DMATPEDIA_PER_S
    figures["meets_target_2dmatpedia"] = float(figures["2dmatpedia_entries_per_s"] >= TARGET_2DMATPEDIA_PER_S)
    print_table(
        ["source", "records", "ingest s", "entries/s", "parse-only/s (peer)", "ingest/parse time"],
        rows,
        title="Ingest throughput (file -> committed rows, batches of 500)",
    )
    print(f"2DMatPedia-style JSON lines: {figures['2dmatpedia_entries_per_s']:.0f} entries/s (target >= {TARGET_2DMATPEDIA_PER_S:.0f})")
    report(figures, args.json)


if __name__ == "__main__":
    main()
