"""OPTIMADE filter latency and throughput: atlas2d on PostgreSQL vs the optimade reference server in memory.

Both servers get the same structures: real poscar2d monolayers are written into an atlas2d
store (embedded PostgreSQL), read back through atlas2d's OPTIMADE API and inserted, document
by document, into the reference server's in-memory (mongomock) backend, with the same
``_atlas2d_`` provider fields. Band gaps and formation energies are synthetic (a fixed
pattern by index) so that provider-field filters have something to select.

Both run as real uvicorn servers in their own processes on 127.0.0.1 (the reference one
through this script's ``--serve-reference`` mode, since its in-memory backend lives in its
process), and one keep-alive HTTP client sends every filter to each: first page
(page_limit 20) plus count, as a user's first request would be. Before timing, both servers
must return the same ``data_returned`` for every filter, so the comparison is of equal work.

Then the load: ``--concurrency`` clients (default 32) send the same filters in turn, each
starting at a different one, for ``--load-seconds`` (after 2 s of warm-up), first to atlas2d
(``atlas2d serve`` with its default workers, or ``--workers``), then to the reference server
(one process, as it runs by default). The load generator (``atlas2d.testdata.load``: asyncio
streams, well under 1 ms of CPU a request) runs in this process, on the same machine:
requests per second, p50/p90/p99 latency of each server, and the generator's own CPU.

(The script is not called ``optimade.py``: run as a script, that name would shadow the
``optimade`` package it imports.)

    python benchmarks/optimade_api.py [--quick] [--json PATH] [--structures N] [--repeats R]
                                      [--concurrency C] [--load-seconds S] [--workers W]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

from atlas2d.testdata.bench import benchmark_parser, report

FILTERS = [
    'elements HAS "S"',
    'elements HAS ALL "Mo","S"',
    'elements HAS ANY "Se","Te"',
    'elements HAS ONLY "Mo","S"',
    "nelements = 2",
    "nelements >= 3 AND nsites < 10",
    'chemical_formula_reduced = "MoS2"',
    'chemical_formula_reduced STARTS WITH "Mo"',
    'chemical_formula_reduced CONTAINS "Se"',
    'chemical_formula_reduced ENDS WITH "2"',
    'chemical_formula_anonymous = "AB2"',
    "nsites > 12",
    "elements LENGTH 3",
    "_atlas2d_band_gap > 1.5",
    "_atlas2d_band_gap IS UNKNOWN",
    '_atlas2d_band_gap_method = "HSE06"',
    'NOT elements HAS "O"',
    'elements HAS "S" AND _atlas2d_band_gap < 1',
    '(nelements = 2 OR nelements = 3) AND NOT elements HAS "Al"',
    "nperiodic_dimensions = 2",
    'species_at_sites HAS "Bi"',
    "_atlas2d_formation_energy < -0.5",
    'chemical_formula_descriptive CONTAINS "12"',
    "ID_PLACEHOLDER",
]


def _values(index: int) -> list[Any]:
    from atlas2d.ingest.records import Value

    values = []
    if index % 2:
        values.append(Value("band_gap", round(0.013 * (index % 300), 3), "eV", "PBE"))
    if index % 3 == 0:
        values.append(Value("band_gap", round(0.017 * (index % 250) + 0.3, 3), "eV", "HSE06"))
    if index % 5 == 1:
        values.append(Value("formation_energy", round(-0.004 * (index % 400), 3), "eV/atom", "PBE"))
    return values


def load_atlas2d(n: int, workdir: Path) -> str:
    """An embedded store with ``n`` real structures; returns its URL."""
    from sqlalchemy.orm import Session

    from atlas2d.schema.database import make_engine, start_embedded
    from atlas2d.schema.migrate import upgrade
    from atlas2d.testdata.poscar import poscar_structures, seed_store, structure_record

    url = start_embedded(workdir / "pgdata", database="optimade_bench")
    engine = make_engine(url)
    upgrade(engine)
    structures = poscar_structures(n, max_sites=10_000)
    if len(structures) < n:
        raise SystemExit(f"the poscar2d archive has only {len(structures)} structures, {n} asked")
    records = [structure_record(key, s, _values(i)) for i, (key, s) in enumerate(structures)]
    with Session(engine) as session:
        for start in range(0, len(records), 500):
            seed_store(session, records[start : start + 500])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum does soon after a bulk load
    engine.dispose()
    return url


def reference_app(documents: list[dict[str, Any]], log_dir: Path):  # noqa: ANN201 - FastAPI
    """The optimade reference server (mongomock backend) holding ``documents``."""
    for doc in documents:
        doc["last_modified"] = datetime.fromisoformat(doc["last_modified"].replace("Z", "+00:00"))
    from optimade.server.config import ServerConfig
    from optimade.server.create_app import create_app

    from atlas2d.api.optimade.app import server_config

    ours = server_config()
    config = ServerConfig(
        insert_test_data=False,
        database_backend="mongomock",
        log_dir=log_dir,
        provider=ours.provider,
        provider_fields=ours.provider_fields,
        page_limit=ours.page_limit,
        page_limit_max=ours.page_limit_max,
    )
    app = create_app(config, logger_tag="reference")
    app.state.entry_collections["structures"].insert(documents)
    return app


def export_documents(client: Any, base: str) -> list[dict[str, Any]]:
    """Every structure as atlas2d serves it, turned into a reference-server (Mongo) document."""
    documents = []
    url = f"{base}/v1/structures?page_limit=500"
    while url:
        body = client.get(url).json()
        for item in body["data"]:
            doc = {"id": item["id"]}
            for name, value in item["attributes"].items():
                if value is None:
                    continue
                doc[name.removeprefix("_atlas2d_")] = value
            documents.append(doc)
        url = body["links"]["next"]
    return documents


def time_filter(client: Any, base: str, filter_text: str, repeats: int) -> tuple[float, int]:
    """Median wall time (ms) of ``repeats`` first-page requests, and the hits' count."""
    times = []
    returned = -1
    for _ in range(repeats):
        start = time.perf_counter()
        response = client.get(f"{base}/v1/structures", params={"filter": filter_text})
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{filter_text!r} -> {response.status_code}: {response.text[:300]}")
        returned = response.json()["meta"]["data_returned"]
    return statistics.median(times), returned


def serve_reference(documents_path: Path, port: int) -> None:
    """``--serve-reference``: run the reference server on ``documents_path`` until killed."""
    import uvicorn

    documents = json.loads(documents_path.read_text())
    app = reference_app(documents, documents_path.parent / "reference-logs")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    parser = benchmark_parser(__doc__, "500 structures, 2 repeats")
    parser.add_argument("--structures", type=int, default=None, help="structures to load (default 5000)")
    parser.add_argument("--repeats", type=int, default=None, help="timed requests per filter and server (default 5)")
    parser.add_argument("--concurrency", type=int, default=32, help="clients of the load test (default 32; 0 skips it)")
    parser.add_argument("--load-seconds", type=float, default=None, help="timed seconds of load per server (default 20)")
    parser.add_argument("--workers", type=int, default=None, help="atlas2d serve --workers (default: the command's default)")
    parser.add_argument(
        "--store-url",
        default=None,
        help="a store this benchmark loaded before (same --structures), to skip loading it again (it is not changed)",
    )
    parser.add_argument("--serve-reference", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.serve_reference:
        serve_reference(args.serve_reference, args.port)
        return
    n = args.structures or (500 if args.quick else 5000)
    repeats = args.repeats or (2 if args.quick else 5)
    load_seconds = args.load_seconds or (4.0 if args.quick else 20.0)

    import httpx

    from atlas2d.testdata.servers import atlas2d_server, running

    with tempfile.TemporaryDirectory(prefix="atlas2d-optimade-bench-") as tmp, httpx.Client(timeout=300) as client:
        workdir = Path(tmp)
        started = time.perf_counter()
        url = args.store_url or load_atlas2d(n, workdir)
        if not args.store_url:
            print(f"loaded {n} structures into atlas2d in {time.perf_counter() - started:.0f} s", flush=True)
        with atlas2d_server(url, workers=args.workers) as ours:
            documents = export_documents(client, ours)
            (workdir / "documents.json").write_text(json.dumps(documents))
            started = time.perf_counter()
            with running(
                [sys.executable, __file__, "--serve-reference", str(workdir / "documents.json"), "--port", "{port}"], "/v1/info"
            ) as reference:
                print(f"started the reference server with {len(documents)} documents in {time.perf_counter() - started:.0f} s", flush=True)
                rows = run_filters(client, ours, reference, documents, repeats)
                load = run_loads(ours, reference, documents, url, args.concurrency, load_seconds) if args.concurrency > 0 else {}
    summarise(rows, n, repeats, load, args.json)


def run_loads(
    ours: str, reference: str, documents: list[dict[str, Any]], store_url: str, concurrency: int, seconds: float
) -> dict[str, Any]:
    """The filter mix under ``concurrency`` clients for ``seconds``, on atlas2d and then on the reference server,
    with the CPU time each server's processes (and atlas2d's PostgreSQL backends) used per request."""
    from urllib.parse import urlencode, urlsplit

    from sqlalchemy.engine import make_url

    from atlas2d.testdata.load import cpu_seconds, run_load

    targets = [f"/v1/structures?{urlencode({'filter': f})}" for f in filters_for(documents)]
    figures: dict[str, Any] = {"concurrency": concurrency, "load_seconds": seconds}
    database = make_url(store_url).database or ""
    for name, base in (("atlas2d", ours), ("reference", reference)):
        print(f"load: {concurrency} clients on {name} for {seconds:.0f} s", flush=True)
        server = ("--port", str(urlsplit(base).port))
        before = cpu_seconds(*server), cpu_seconds("postgres:", database)
        result = run_load(base, targets, concurrency=concurrency, seconds=seconds)
        after = cpu_seconds(*server), cpu_seconds("postgres:", database)
        if result.failures:
            print(f"  {len(result.failures)} failed requests, e.g. {result.failures[0]}", flush=True)
        figures |= result.figures(name)
        answered = max(1, result.answered)
        figures[f"{name}_server_cpu_ms_per_request"] = round(1000 * (after[0] - before[0]) / answered, 2)
        if name == "atlas2d":
            figures["atlas2d_postgres_cpu_ms_per_request"] = round(1000 * (after[1] - before[1]) / answered, 2)
        print(
            f"  {result.requests_per_s:.1f} requests/s, p50 {result.percentile_ms(50):.0f} ms, p99 {result.percentile_ms(99):.0f} ms",
            flush=True,
        )
    figures["throughput_vs_reference"] = round(figures["atlas2d_requests_per_s"] / max(figures["reference_requests_per_s"], 1e-9), 1)
    return figures


def filters_for(documents: list[dict[str, Any]]) -> list[str]:
    """``FILTERS`` with the id filter naming a stored structure."""
    return [f'id = "{documents[len(documents) // 2]["id"]}"' if f == "ID_PLACEHOLDER" else f for f in FILTERS]


def run_filters(client: Any, ours: str, reference: str, documents: list[dict[str, Any]], repeats: int) -> list[dict[str, Any]]:
    """Time every filter on both servers, after checking that they agree on the hits."""
    rows = []
    for f in filters_for(documents):
        for base in (ours, reference):
            client.get(f"{base}/v1/structures", params={"filter": f})
        atlas_ms, atlas_n = time_filter(client, ours, f, repeats)
        ref_ms, ref_n = time_filter(client, reference, f, repeats)
        if atlas_n != ref_n:
            raise SystemExit(f"servers disagree on {f!r}: atlas2d {atlas_n}, reference {ref_n}")
        rows.append({"filter": f, "hits": atlas_n, "atlas2d_ms": atlas_ms, "reference_ms": ref_ms, "speedup": ref_ms / atlas_ms})
        timing = f"atlas2d {atlas_ms:8.1f} ms  reference {ref_ms:9.1f} ms  x{ref_ms / atlas_ms:6.1f}"
        print(f"  {f[:60]:60} {atlas_n:6d} hits  {timing}", flush=True)
    return rows


def summarise(rows: list[dict[str, Any]], n: int, repeats: int, load: dict[str, Any], json_path: Path | None) -> None:
    """Print the per-filter table and the summary figures (one client, then the load); write the JSON when asked."""
    atlas_p50 = statistics.median(r["atlas2d_ms"] for r in rows)
    ref_p50 = statistics.median(r["reference_ms"] for r in rows)
    summary = {
        "structures": n,
        "filters": len(rows),
        "repeats": repeats,
        "single_client_atlas2d_p50_ms": round(atlas_p50, 2),
        "single_client_reference_p50_ms": round(ref_p50, 2),
        "speedup_vs_reference_at_median": round(ref_p50 / atlas_p50, 2),
        "speedup_vs_reference_min": round(min(r["speedup"] for r in rows), 2),
        "median_of_per_filter_speedups": round(statistics.median(r["speedup"] for r in rows), 2),
        **load,
        "per_filter": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
    }
    print()
    print(f"{'filter':60} {'hits':>6} {'atlas2d ms':>11} {'reference ms':>13} {'ratio':>7}")
    for r in rows:
        print(f"{r['filter'][:60]:60} {r['hits']:6d} {r['atlas2d_ms']:11.1f} {r['reference_ms']:13.1f} {r['speedup']:7.1f}")
    print(f"\n{n} structures, {len(rows)} filters, median of {repeats} requests each; reference = optimade server on mongomock")
    report(summary, json_path)


if __name__ == "__main__":
    main()
