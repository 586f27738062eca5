"""Hostile source files through ``atlas2d ingest``: nothing lost, nothing crashes.

The seeded corpus of ``atlas2d.testdata.fuzz_ingest`` (every hostile case of every format,
then random ones, until ``--records`` records) is written to files and ingested by the real
command line, one run per source, into a private embedded PostgreSQL. Then every record is
accounted for: stored, or quarantined (a row for a whole file covers its records, a row for
a damaged JSON-list tail every record from its index on). Must be 0: records lost, good
records missing, hostile records stored, runs exiting non-zero, tracebacks, reader bugs.

The peer is a clean corpus of the same size (good records only, one file per format) in
the same run, so the cost of hostility shows as the ratio of the two rates.

    python benchmarks/ingest_fuzz.py [--quick] [--records N] [--seed S] [--json PATH]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from atlas2d.schema.database import make_engine, start_embedded
from atlas2d.schema.migrate import upgrade
from atlas2d.testdata.bench import benchmark_parser, report
from atlas2d.testdata.fuzz_ingest import FuzzFile, account, clean_corpus, ingest_corpus, write_corpus

QUICK_RECORDS = 600
FULL_RECORDS = 2000


def run_corpus(files: list[FuzzFile], folder: Path, url: str) -> dict[str, Any]:
    """Ingest ``files`` with one ``atlas2d ingest`` run per source; the runs' exit codes, tracebacks and time."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ATLAS2D_")}, "ATLAS2D_DATABASE_URL": url}
    nonzero, tracebacks, runs = 0, 0, 0
    started = time.perf_counter()
    for source, paths in write_corpus(files, folder).items():
        result = subprocess.run(
            [sys.executable, "-m", "atlas2d", "ingest", source, *map(str, paths)], capture_output=True, text=True, env=env, timeout=1800
        )
        runs += 1
        nonzero += result.returncode != 0
        tracebacks += "Traceback" in result.stdout + result.stderr
        if result.returncode != 0:
            print(f"atlas2d ingest {source} exited {result.returncode}: {result.stderr[-2000:]}", file=sys.stderr)
    return {"runs": runs, "nonzero": nonzero, "tracebacks": tracebacks, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = benchmark_parser(__doc__ or "", f"{QUICK_RECORDS} records or more: every hostile case of every format once (about 650)")
    parser.add_argument("--records", type=int, default=FULL_RECORDS, help=f"records in the corpus, at least (default {FULL_RECORDS})")
    parser.add_argument("--seed", type=int, default=18, help="corpus seed (default 18)")
    args = parser.parse_args()
    size = QUICK_RECORDS if args.quick else args.records
    with tempfile.TemporaryDirectory(prefix="atlas2d-ingest-fuzz-") as tmp:
        workdir = Path(tmp)
        hostile = ingest_corpus(seed=args.seed, size=size)
        clean = clean_corpus(seed=args.seed, size=sum(f.given for f in hostile))
        figures: dict[str, Any] = {}
        for name, files in (("hostile", hostile), ("clean", clean)):
            url = start_embedded(workdir / "pgdata", database=f"fuzz_{name}")
            engine = make_engine(url)
            upgrade(engine)
            runs = run_corpus(files, workdir / name, url)
            tally = account(engine, files)
            engine.dispose()
            if name == "hostile":
                figures.update(
                    files=tally.files,
                    records_given=tally.given,
                    records_stored=tally.stored,
                    quarantine_rows=tally.quarantine_rows,
                    records_lost=tally.lost,
                    good_records_missing=tally.good_missing,
                    hostile_records_stored=tally.hostile_stored,
                    reader_bugs=tally.reader_bugs,
                    runs=runs["runs"],
                    runs_nonzero=runs["nonzero"],
                    runs_with_traceback=runs["tracebacks"],
                    problems=tally.problems,
                )
            else:
                figures["clean_records_lost"] = tally.lost + tally.good_missing
            figures[f"{name}_records"] = tally.given
            figures[f"{name}_s"] = runs["seconds"]
            figures[f"{name}_records_per_s"] = tally.given / runs["seconds"]
    report(figures, args.json, title="ingest fuzz")
    faults = ("records_lost", "good_records_missing", "hostile_records_stored", "reader_bugs", "runs_nonzero", "runs_with_traceback")
    if any(figures[key] for key in faults) or figures["clean_records_lost"]:
        for problem in figures["problems"]:
            print(problem, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
