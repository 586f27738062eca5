"""The whole store at 10,000 and 100,000 structures: every command's time, throughput and peak memory.

For each size N (default 10,000 and 100,000; ``--quick``: 1,000 and 2,000) a fresh embedded
PostgreSQL gets N 2DMatPedia records: the 1,000 real ones plus changed copies
(``atlas2d.testdata.scaled``: new elements, ±3 % strain, one copy in twenty a noisy
duplicate), with the real records' band gaps and energies. Then, each as the real
``atlas2d`` command in its own process, so that its peak RSS (``wait4``) is its own:

1. ``ingest``: ``atlas2d ingest 2dmatpedia`` of the N records (records/s);
2. ``dedup_first``: ``atlas2d dedup`` over all N (invariants, candidates, clusters);
3. ``dedup_incremental``: 1,000 new records ingested, then ``atlas2d dedup`` again;
4. ``fingerprints``: N/100 generated tight-binding band structures stored
   (``atlas2d fingerprint generate``, not timed), then ``atlas2d fingerprint`` (band structures/s);
5. ``optimade``: ``atlas2d serve``; the 24 filters of ``benchmarks/optimade_api.py`` and filters
   on ``_atlas2d_`` property values, each a first page (page_limit 20) with its count, R times
   cold (each request right after a write to the store, ``UPDATE source``, so the server's
   kept counts are stale and it counts again) and R times warm (after one warm-up): p50 and
   p99 per filter, the worst of each over all filters; ``sql``: the same statements timed in
   PostgreSQL alone (the store's part), cold (page and counts) and warm (page and the store
   version the kept counts are checked against);
6. ``knn_structure`` / ``knn_bands``: ``/v1/extensions/similar`` by structure and by bands on
   the same server, 50 random queries each (p50/p99); the server's peak RSS;
7. ``export``: ``atlas2d export`` of every material (materials/s).

PostgreSQL's own memory is not in the peaks (it is a server of its own). The table puts the
sizes side by side; ``--json`` keys carry units (``n100000_optimade_p99_max_ms``).
Targets at 100,000: OPTIMADE p50 < 50 ms and p99 < 200 ms for every filter, incremental
dedup < 5 s, peak RSS of any command < 2 GB.

    python benchmarks/scale.py [--quick] [--json PATH] [--sizes 10000 100000] [--repeats R] [--keep DIR] [--steps STEP ...]
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from atlas2d.testdata.bench import benchmark_parser, format_value
from atlas2d.testdata.scaled import write_jsonl
from atlas2d.testdata.servers import free_port, wait_until_up

NEW_ENTRIES = 1000
"""Records added before the incremental dedup."""

PROPERTY_FILTERS = [
    "_atlas2d_band_gap_pbe > 2",
    "_atlas2d_band_gap >= 0.5 AND _atlas2d_band_gap <= 1.5",
    "NOT _atlas2d_band_gap > 1",
    '_atlas2d_band_gap_method = "PBE"',
    "_atlas2d_band_gap IS KNOWN",
    '_atlas2d_band_gap_pbe > 1 AND elements HAS "S" AND nelements = 2',
    "_atlas2d_band_gap_hse06 IS UNKNOWN AND _atlas2d_band_gap < 0.1",
]
"""Filters on the preferred values (``preferred_value``) beyond the ones among the 24."""

QUERIES = 50
"""kNN queries per kind."""

STEPS = ("ingest", "dedup_first", "ingest_new", "dedup_incremental", "fingerprints", "optimade", "sql", "export")
"""The steps, in the order they run (``--steps``); ``dedup_incremental`` also times ``dedup --full`` on the same store as its peer."""


def _filters() -> list[str]:
    """The 24 filters of ``benchmarks/optimade_api.py`` (its id placeholder made a real id) and ours.

    That file is loaded by its path, beside this one: ``python benchmarks/scale.py`` cannot
    import the ``benchmarks`` folder as a package, and one list must not be kept twice.
    """
    spec = importlib.util.spec_from_file_location("optimade_api_benchmark", Path(__file__).with_name("optimade_api.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [f.replace("ID_PLACEHOLDER", 'id = "2dmatpedia/2dm-10"') for f in module.FILTERS] + PROPERTY_FILTERS


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measured(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run ``atlas2d <command>``; return (seconds, peak RSS MB of that process)."""
    started = time.perf_counter()
    with log.open("a") as output:
        output.write(f"$ atlas2d {' '.join(command)}\n")
        output.flush()
        process = subprocess.Popen([sys.executable, "-m", "atlas2d", *command], env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"atlas2d {' '.join(command)} failed with exit code {process.returncode}; see {log}")
    return seconds, usage.ru_maxrss / 1024


def _tree_peak_mb(pid: int) -> float:
    """Peak RSS (VmHWM) of a process and its children, in MB, read while they run."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0) / 1024
        pending += [int(child) for child in children]
    return total


def _latencies(
    client: httpx.Client, path: str, params: list[dict[str, Any]], repeats: int, before: Callable[[], None] | None = None
) -> list[float]:
    """Milliseconds of ``repeats`` rounds over ``params`` (after one untimed round); ``before``
    runs before each request, outside its time."""
    times = []
    for round_ in range(repeats + 1):
        for p in params:
            if before is not None:
                before()
            started = time.perf_counter()
            response = client.get(path, params=p)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{path} {p} answered {response.status_code}: {response.text[:300]}")
            if round_:
                times.append(elapsed)
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def serve_and_query(env: dict[str, str], log: Path, repeats: int, rng: random.Random) -> dict[str, Any]:
    """OPTIMADE filters and both kNN searches against one ``atlas2d serve``; its peak RSS."""
    port = free_port()
    with log.open("a") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "atlas2d", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, Any] = {}
    try:
        wait_until_up(base + "/v1/info", server)
        with httpx.Client(base_url=base, timeout=120) as client, _store_writer(env["ATLAS2D_DATABASE_URL"]) as write:
            per_filter = []
            for text in _filters():
                params = [{"filter": text, "page_limit": 20}]
                cold = _latencies(client, "/v1/structures", params, repeats, before=write)
                warm = _latencies(client, "/v1/structures", params, repeats)
                returned = client.get("/v1/structures", params={"filter": text, "page_limit": 1}).json()["meta"]["data_returned"]
                per_filter.append(
                    {"filter": text, "returned": returned}
                    | {"cold_p50_ms": _p(cold, 0.5), "cold_p99_ms": _p(cold, 0.99), "p50_ms": _p(warm, 0.5), "p99_ms": _p(warm, 0.99)}
                )
            figures["optimade_filters"] = len(per_filter)
            for prefix in ("", "cold_"):
                figures[f"optimade_{prefix}p50_max_ms"] = max(f[f"{prefix}p50_ms"] for f in per_filter)
                figures[f"optimade_{prefix}p99_max_ms"] = max(f[f"{prefix}p99_ms"] for f in per_filter)
                figures[f"optimade_{prefix}p50_median_ms"] = statistics.median(f[f"{prefix}p50_ms"] for f in per_filter)
                figures[f"optimade_{prefix}missed"] = sum(1 for f in per_filter if _misses(f, f"{prefix}p50_ms", f"{prefix}p99_ms"))
            figures["optimade_slowest_filter"] = max(per_filter, key=lambda f: f["cold_p99_ms"])["filter"]
            figures["optimade_per_filter"] = per_filter
            searches = {"structure": _ids(client, 'source="2dmatpedia"', rng), "bands": _band_ids(env["ATLAS2D_DATABASE_URL"], rng)}
            for by, ids in searches.items():
                if not ids:  # no band structures without the fingerprints step
                    continue
                times = _latencies(client, "/v1/extensions/similar", [{"id": i, "by": by} for i in ids], 1)
                figures[f"knn_{by}_p50_ms"] = _p(times, 0.5)
                figures[f"knn_{by}_p99_ms"] = _p(times, 0.99)
        figures["serve_peak_mb"] = _tree_peak_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return figures


@contextmanager
def _store_writer(url: str) -> Iterator[Callable[[], None]]:
    """A function that writes to the store (``UPDATE source``, one committed transaction),
    which makes every count an ``atlas2d serve`` keeps stale: the next request counts again."""
    from sqlalchemy import text

    from atlas2d.schema.database import make_engine

    engine = make_engine(url)

    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("UPDATE source SET title = title"))

    try:
        yield write
    finally:
        engine.dispose()


def sql_latencies(url: str, repeats: int) -> dict[str, Any]:
    """Each filter's statements as the API's collection builds them, timed inside PostgreSQL.

    The HTTP figures include the server's Python (parsing, rendering, middleware), which this
    2-core machine shares with other work; these are the store's part of each request:
    planning plus execution time as ``EXPLAIN ANALYZE`` reports them (``TIMING OFF``, so
    no per-node clock reads), summed over a request's statements. Cold: the page and the
    counts (and the store version they are kept under); warm: the page and the version that
    the kept counts are checked against. A store without ``store_version`` (before
    migration 0008) keeps no counts: its warm figures are its cold ones.
    """
    from sqlalchemy import func, inspect, select, text

    from atlas2d.api.optimade.fields import STRUCTURE_RESOURCE, STRUCTURES
    from atlas2d.api.optimade.filter import filter_clause
    from atlas2d.schema.database import make_engine

    try:
        from atlas2d.api.optimade.collection import page_statement
    except ImportError:  # the code before it (measuring a store's "before"): the page in one pass

        def page_statement(resource: Any, columns: Any, condition: Any, order: Any, limit: int, skip: int) -> Any:
            return select(*columns).where(condition).order_by(resource.selectable.c.entry_pk).limit(limit).offset(skip)

    engine = make_engine(url)
    columns = [c for c in STRUCTURES.c if c.name != "entry_pk"]
    per_filter = []
    with engine.connect() as connection:
        versioned = inspect(connection).has_table("store_version")
        version = [text("(SELECT version FROM store_version)")] if versioned else []
        for text_ in _filters():
            condition = filter_clause(text_)
            page = page_statement(STRUCTURE_RESOURCE, columns, condition, [], 21, 0)
            counts = select(
                *version,
                select(func.count()).select_from(STRUCTURES).where(condition).scalar_subquery(),
                select(func.count()).select_from(STRUCTURES).scalar_subquery(),
            )
            matches = connection.execute(select(func.count()).select_from(STRUCTURES).where(condition)).scalar_one()
            paged = [page] if matches or not versioned else []  # the API skips the page of a filter it knows matches nothing
            kinds = {"cold": [counts, *paged]} | ({"warm": [select(*version), *paged]} if versioned else {})
            figures: dict[str, Any] = {"filter": text_}
            for kind, statements in kinds.items():
                explained = [
                    "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) "
                    + str(s.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
                    for s in statements
                ]
                times = []
                for round_ in range(repeats + 1):
                    plans = [connection.execute(text(s)).scalar_one()[0] for s in explained]
                    if round_:
                        times.append(sum(p["Planning Time"] + p["Execution Time"] for p in plans))
                prefix = "" if kind == "warm" else "cold_"
                figures |= {f"sql_{prefix}p50_ms": _p(times, 0.5), f"sql_{prefix}p99_ms": _p(times, 0.99)}
            if not versioned:
                figures |= {"sql_p50_ms": figures["sql_cold_p50_ms"], "sql_p99_ms": figures["sql_cold_p99_ms"]}
            per_filter.append(figures)
    engine.dispose()
    summary: dict[str, Any] = {}
    for prefix in ("", "cold_"):
        summary[f"sql_{prefix}p50_max_ms"] = max(f[f"sql_{prefix}p50_ms"] for f in per_filter)
        summary[f"sql_{prefix}p99_max_ms"] = max(f[f"sql_{prefix}p99_ms"] for f in per_filter)
        summary[f"sql_{prefix}p50_median_ms"] = statistics.median(f[f"sql_{prefix}p50_ms"] for f in per_filter)
    return summary | {
        "sql_slowest_filter": max(per_filter, key=lambda f: f["sql_cold_p50_ms"])["filter"],
        "sql_per_filter": per_filter,
    }


def _ids(client: httpx.Client, filter_text: str, rng: random.Random) -> list[str]:
    """``QUERIES`` random structure ids (from the first 500 the filter returns)."""
    data = client.get("/v1/structures", params={"filter": f"_atlas2d_{filter_text}", "page_limit": 500, "response_fields": "id"})
    ids = [d["id"] for d in data.json()["data"]]
    return rng.sample(ids, min(QUERIES, len(ids)))


def _band_ids(url: str, rng: random.Random) -> list[str]:
    """``QUERIES`` random generated band structures, as ``source/key`` ids."""
    from sqlalchemy import text

    from atlas2d.schema.database import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        keys = connection.execute(
            text("SELECT e.source_key FROM entry e JOIN source s ON s.id = e.source_id WHERE s.name = 'tight-binding-generated'")
        ).scalars().all()
    engine.dispose()
    return [f"tight-binding-generated/{k}" for k in rng.sample(sorted(keys), min(QUERIES, len(keys)))]


def run_size(size: int, workdir: Path, repeats: int, steps: frozenset[str] = frozenset(STEPS)) -> dict[str, Any]:
    """The chosen steps (default: all) at one size; figures without the size prefix.

    Steps run in their fixed order whatever the order asked for; a step left out is not run,
    so ``--keep DIR --steps optimade sql`` measures the API again on a store filled earlier.
    """
    from atlas2d.schema.database import start_embedded

    rng = random.Random(size)
    url = start_embedded(workdir / "pgdata", f"scale{size}")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ATLAS2D_")}, "ATLAS2D_DATABASE_URL": url}
    log = workdir / f"scale{size}.log"
    figures: dict[str, Any] = {"structures": size}
    _log(f"{size}: writing records")
    main = write_jsonl(workdir / "main.jsonl", 0, size) if "ingest" in steps else None
    new = write_jsonl(workdir / "new.jsonl", size, size + NEW_ENTRIES) if "ingest_new" in steps else None
    measured(["init"], env, log)  # on a kept store: applies migrations added since it was filled

    def step(name: str, command: list[str], items: int | None) -> None:
        _log(f"{size}: {name}")
        seconds, peak = measured(command, env, log)
        figures[f"{name}_s"] = seconds
        if items:
            figures[f"{name}_per_s"] = items / seconds
        figures[f"{name}_peak_mb"] = peak
        _log(f"{size}: {name} took {seconds:.1f} s, peak {peak:.0f} MB")

    if main is not None:
        step("ingest", ["ingest", "2dmatpedia", str(main)], size)
    if "dedup_first" in steps:
        step("dedup_first", ["dedup"], size)
    if new is not None:
        step("ingest_new", ["ingest", "2dmatpedia", str(new)], NEW_ENTRIES)
    if "dedup_incremental" in steps:
        step("dedup_incremental", ["dedup"], NEW_ENTRIES)
        step("dedup_full", ["dedup", "--full"], size + NEW_ENTRIES)
    if "fingerprints" in steps:
        per_family = max(10, size // 600)
        _log(f"{size}: generating {6 * per_family} band structures")
        measured(["fingerprint", "generate", "--per-family", str(per_family)], env, log)
        step("fingerprints", ["fingerprint", "--device", "cpu"], 6 * per_family)
    if "optimade" in steps:
        _log(f"{size}: OPTIMADE and kNN")
        figures |= serve_and_query(env, log, repeats, rng)
    if "sql" in steps:
        _log(f"{size}: the filters' SQL alone")
        figures |= sql_latencies(url, repeats)
    if "export" in steps:
        materials = size + NEW_ENTRIES
        step("export", ["export", "--out", str(workdir / "export")], materials)
    return figures


ROWS = [
    ("ingest", "ingest_s", "ingest_per_s", "ingest_peak_mb"),
    ("dedup (first)", "dedup_first_s", "dedup_first_per_s", "dedup_first_peak_mb"),
    ("ingest 1,000 new", "ingest_new_s", "ingest_new_per_s", "ingest_new_peak_mb"),
    ("dedup (incremental)", "dedup_incremental_s", "dedup_incremental_per_s", "dedup_incremental_peak_mb"),
    ("  the same store, dedup --full", "dedup_full_s", "dedup_full_per_s", "dedup_full_peak_mb"),
    ("fingerprints (N/100 bands)", "fingerprints_s", "fingerprints_per_s", "fingerprints_peak_mb"),
    ("OPTIMADE cold p50 / p99 worst filter (ms)", "optimade_cold_p50_max_ms", "optimade_cold_p99_max_ms", "serve_peak_mb"),
    ("OPTIMADE cold p50 median filter (ms)", "optimade_cold_p50_median_ms", None, None),
    ("  its SQL alone p50 / p99 worst (ms)", "sql_cold_p50_max_ms", "sql_cold_p99_max_ms", None),
    ("OPTIMADE warm p50 / p99 worst filter (ms)", "optimade_p50_max_ms", "optimade_p99_max_ms", None),
    ("OPTIMADE warm p50 median filter (ms)", "optimade_p50_median_ms", None, None),
    ("  its SQL alone p50 / p99 worst (ms)", "sql_p50_max_ms", "sql_p99_max_ms", None),
    ("kNN by structure p50 / p99 (ms)", "knn_structure_p50_ms", "knn_structure_p99_ms", None),
    ("kNN by bands p50 / p99 (ms)", "knn_bands_p50_ms", "knn_bands_p99_ms", None),
    ("export", "export_s", "export_per_s", "export_peak_mb"),
]
"""Table rows: label, then the keys of its time (s or ms), throughput (/s; p99 for kNN) and peak RSS columns."""


def print_table(results: dict[int, dict[str, Any]]) -> None:
    """One row per step, each size's time, throughput and peak RSS side by side."""
    sizes = sorted(results)
    header = ["step"] + [f"{label} ({size:,})" for size in sizes for label in ("time", "per s / p99", "peak MB")]
    rows = [header]
    for label, *keys in ROWS:
        rows.append([label] + [format_value(results[s].get(k)) if k else "" for s in sizes for k in keys])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
    for size in sizes:
        figures = results[size]
        print(f"{size:,}: slowest filter over HTTP (cold p99): {figures.get('optimade_slowest_filter')}")
        print(f"{size:,}: slowest filter in SQL (cold p50): {figures.get('sql_slowest_filter')}")
        print_filters(size, figures)


def print_filters(size: int, figures: dict[str, Any]) -> None:
    """Every filter's cold and warm p50 / p99 over HTTP and in SQL, the ones missing a target marked."""
    sql = {f["filter"]: f for f in figures.get("sql_per_filter", [])}
    http = {f["filter"]: f for f in figures.get("optimade_per_filter", [])}
    if not sql and not http:
        return
    print(f"\n{size:,} structures, per filter (ms; * misses p50 < 50 or p99 < 200):")
    print(f"{'filter':<72} {'matches':>8} {'HTTP cold':>13} {'HTTP warm':>13} {'SQL cold':>13} {'SQL warm':>13}")

    def pair(row: dict[str, Any] | None, kind: str) -> str:
        if row is None:
            return ""
        p50, p99 = f"{kind}p50_ms", f"{kind}p99_ms"
        return f"{row[p50]:.0f} / {row[p99]:.0f}{'*' if _misses(row, p50, p99) else ' '}"

    for text_ in http or sql:
        h, q = http.get(text_), sql.get(text_)
        print(
            f"{text_[:72]:<72} {format_value(h['returned']) if h else '':>8} {pair(h, 'cold_'):>13} {pair(h, ''):>13} "
            f"{pair(q, 'sql_cold_'):>13} {pair(q, 'sql_'):>13}"
        )


def _misses(row: dict[str, Any], p50: str, p99: str) -> bool:
    """Whether a filter's figures miss the targets at 100,000: p50 < 50 ms and p99 < 200 ms."""
    return row[p50] >= 50 or row[p99] >= 200


def main() -> None:
    parser = benchmark_parser(__doc__ or "", "1,000 and 2,000 structures, 5 repeats")
    parser.add_argument("--sizes", type=int, nargs="+", help="store sizes (default 10000 100000)")
    parser.add_argument("--repeats", type=int, help="timed requests per filter (default 25; 5 with --quick)")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (stores, logs, exports)")
    parser.add_argument(
        "--steps",
        nargs="+",
        choices=STEPS,
        default=list(STEPS),
        help="run only these steps (default: all); with --keep, e.g. 'optimade sql' re-measures the API on the kept store",
    )
    args = parser.parse_args()
    sizes = args.sizes or ([1000, 2000] if args.quick else [10000, 100000])
    repeats = args.repeats or (5 if args.quick else 25)
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="atlas2d-scale-") as scratch:
        root = args.keep or Path(scratch)
        for size in sizes:
            workdir = root / f"n{size}"
            workdir.mkdir(parents=True, exist_ok=True)
            results[size] = run_size(size, workdir, repeats, frozenset(args.steps))
            if args.json:
                flat = {f"n{s}_{k}": v for s, figures in results.items() for k, v in figures.items()}
                args.json.write_text(json.dumps(flat, indent=1, default=str) + "\n")
    print_table(results)
    if args.json:
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
