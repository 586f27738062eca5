"""Benchmark of ``atlas2d export``: materials per second and peak memory.

A store of N materials is made from real poscar2d monolayers (``tests/sample_data.py``,
harmonized through the real store writer) replicated in SQL until it holds N materials,
each with a structure and PBE band gap, formation energy and gap-type values. Then the
streaming exporter (``api/exports/training_set.py``) is compared with the peer it
replaces, a materialize-then-write exporter (the same documents, but every row fetched
and every document built before writing), each in a fresh process so that peak RSS is
its own.

    python benchmarks/export.py            # 20,000 materials
    python benchmarks/export.py --quick    # 2,000 materials
    python benchmarks/export.py --json results.json
"""

from __future__ import annotations

import json
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

from atlas2d.testdata.bench import benchmark_parser, report
from atlas2d.testdata.replicated import build_store


def _status_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, MB. Not ``ru_maxrss``: Linux
    keeps that across exec, so a spawned child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def export_materialized(conn: Any, out: Path, fractions: tuple[float, float, float], seed: int) -> int:
    """The peer: fetch every row, build every document, then write (memory grows with N)."""
    from atlas2d.api.exports.jsonld import material_document
    from atlas2d.api.exports.splits import assign_split
    from atlas2d.api.exports.training_set import entries_by_material, entry_from_row, properties_by_entry

    rows = conn.execute(entries_by_material()).all()
    properties = properties_by_entry(conn, [r.id for r in rows])
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.material_id, []).append(entry_from_row(row, properties.get(row.id, [])))
    documents = [material_document(m, assign_split(str(m), seed, fractions), e) for m, e in grouped.items()]
    out.mkdir(parents=True, exist_ok=True)
    with (out / "all.jsonl").open("w") as handle:
        for document in documents:
            handle.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n")
    return len(documents)


def _run(kind: str, url: str, out: str, queue: Any) -> None:
    from atlas2d.api.exports.training_set import export_training_set
    from atlas2d.schema.database import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        before = _status_mb("VmRSS")
        start = time.perf_counter()
        if kind == "streaming":
            summary = export_training_set(conn, Path(out), (0.8, 0.1, 0.1), seed=0)
            n = sum(summary.materials.values())
        else:
            n = export_materialized(conn, Path(out), (0.8, 0.1, 0.1), seed=0)
        seconds = time.perf_counter() - start
    peak = _status_mb("VmHWM")
    queue.put({"materials": n, "seconds": seconds, "peak_rss_mb": peak, "rss_growth_mb": peak - before})


def measure(kind: str, url: str, out: Path) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run, args=(kind, url, str(out), queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = benchmark_parser(__doc__, "2,000 materials")
    parser.add_argument("--materials", type=int, default=20000, help="materials in the store (default 20000)")
    args = parser.parse_args()
    materials = 2000 if args.quick else args.materials

    from atlas2d.schema.database import start_embedded

    with tempfile.TemporaryDirectory(prefix="atlas2d-bench-") as tmp:
        url = start_embedded(Path(tmp) / "pgdata", database="bench_export")
        started = time.perf_counter()
        build_store(url, materials)
        print(f"store with {materials} materials built in {time.perf_counter() - started:.1f} s")
        streaming = measure("streaming", url, Path(tmp) / "streaming")
        peer = measure("materialized", url, Path(tmp) / "materialized")
    rows = []
    for name, r in (("atlas2d export (streaming)", streaming), ("materialize-then-write (peer)", peer)):
        rows.append((name, r["materials"], r["seconds"], r["materials"] / r["seconds"], r["peak_rss_mb"], r["rss_growth_mb"]))
    header = ("exporter", "materials", "seconds", "materials/s", "peak RSS MB", "RSS growth MB")
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row))
    results = {
        "materials": streaming["materials"],
        "export_materials_per_s": streaming["materials"] / streaming["seconds"],
        "export_seconds": streaming["seconds"],
        "export_peak_rss_mb": streaming["peak_rss_mb"],
        "export_rss_growth_mb": streaming["rss_growth_mb"],
        "peer_materials_per_s": peer["materials"] / peer["seconds"],
        "peer_peak_rss_mb": peer["peak_rss_mb"],
        "peer_rss_growth_mb": peer["rss_growth_mb"],
        "speedup_vs_materialized": (streaming["materials"] / streaming["seconds"]) / (peer["materials"] / peer["seconds"]),
        "rss_growth_ratio_vs_materialized": streaming["rss_growth_mb"] / max(peer["rss_growth_mb"], 1e-9),
    }
    print()
    report(results, args.json)


if __name__ == "__main__":
    main()
