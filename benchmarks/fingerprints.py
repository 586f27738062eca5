"""Benchmark band-structure fingerprints: quality on real band structures, encoding throughput, kNN search.

0. Real set: the 132 real PBE band structures of MC2D monolayers (``bands-gpaw``; the
   bundled compact copy, or ``--real INDEX.csv`` to read the band files). Leave-one-out
   5-nearest-neighbour band-gap regression (MAE, eV), metal/insulator accuracy and
   same-prototype precision@5 for the shipped fingerprints, PCA of the raw pictures with as
   many components, and element fractions, side by side; over all materials, and over the
   third the shipped weights never saw (``held_out_*``).
1. Throughput: generated tight-binding band structures per second through rasterise, encode
   (the shipped weights, batched) and both, and real band structures' pictures through
   encode, on CPU and, when CUDA is present, on GPU. ``encode_per_s`` is the CPU figure.
2. kNN: fingerprints of generated band structures replicated with Gaussian noise to
   ``--vectors`` rows in a vector(64) column of an embedded PostgreSQL + pgvector. Timed:
   an exact scan in PostgreSQL (before the index exists), the peer numpy float32 brute
   force in process, and the store's HNSW index (vector_l2_ops, m=16, ef_construction=64,
   as migration 0001 creates it) at several ``ef_search``: latency p50/p95 and recall@10
   against float32 exact.

Usage: ``python benchmarks/fingerprints.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
import torch

from atlas2d.embeddings.bands.evaluation import compare
from atlas2d.embeddings.bands.model import WEIGHTS, load_model
from atlas2d.embeddings.bands.picture import rasterise, rasterise_many
from atlas2d.embeddings.bands.real_set import RealSet, from_index, load_compact
from atlas2d.ingest.sources.tight_binding import generate
from atlas2d.schema.database import start_embedded
from atlas2d.testdata.bench import benchmark_parser, report

K = 10
NOISE = 0.05
"""Standard deviation of the replication noise, as a fraction of each coordinate's spread."""


def throughput(device: str, per_family: int, repeats: int = 3) -> dict[str, float]:
    """Band structures per second for rasterise, encode and both on ``device`` (median of ``repeats``).

    Also per CPU-second of this process (``*_per_cpu_s``): on a shared machine the
    wall-clock rate falls with the other processes' load, the CPU-time rate much less.
    """
    models = generate(per_family, seed=2024)
    model = load_model(device=device)
    model.encode([rasterise(m.record.segments, m.record.fermi_level) for m in models[:8]])
    rasterise_s, encode_s, rasterise_cpu, encode_cpu = [], [], [], []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        pictures = rasterise_many([(m.record.segments, m.record.fermi_level) for m in models])
        rasterised, rasterised_cpu = time.perf_counter(), time.process_time()
        model.encode(pictures)
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        rasterise_s.append(rasterised - started)
        encode_s.append(time.perf_counter() - rasterised)
        rasterise_cpu.append(rasterised_cpu - cpu)
        encode_cpu.append(time.process_time() - rasterised_cpu)
    n = len(models)
    r, e = float(np.median(rasterise_s)), float(np.median(encode_s))
    return {
        "band_structures": n,
        "rasterise_per_s": n / r,
        "encode_per_s": n / e,
        "rasterise_encode_per_s": n / (r + e),
        "rasterise_per_cpu_s": n / float(np.median(rasterise_cpu)),
        "encode_per_cpu_s": n / float(np.median(encode_cpu)),
    }


def real_encode_rate(real: RealSet, device: str, copies: int = 8, repeats: int = 3) -> float:
    """Real band structures (their pictures, ``copies`` times over) encoded per second on ``device``."""
    model = load_model(device=device)
    pictures = real.pictures * copies
    model.encode(pictures[:8])
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.encode(pictures)
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    return len(pictures) / float(np.median(seconds))


def real_comparison(real: RealSet) -> dict[str, float]:
    """The three-way comparison on the real set with the shipped weights (CPU).

    Twice: every material as a query, and only the materials the weights never saw
    (``held_out_real`` in the weights' record), keys prefixed ``held_out_``.
    """
    model = load_model(device="cpu")
    fingerprints = model.encode(real.pictures)
    record = json.loads(WEIGHTS.with_suffix(".json").read_text(encoding="utf-8"))
    unseen = set(record.get("held_out_real", {}).get("labels", []))
    queries = np.array([i for i, label in enumerate(real.labels) if label in unseen], dtype=int)
    figures = {"real_band_structures": len(real), **compare(fingerprints, real)}
    if len(queries):
        figures["held_out_materials"] = len(queries)
        figures.update({f"held_out_{k}": v for k, v in compare(fingerprints, real, queries=queries).items() if k != "mean_gap_mae_eV"})
    return figures


def print_comparison(figures: dict[str, object], prefix: str, title: str) -> None:
    """The real-set measures as one row per method, the three methods side by side."""
    print(title)
    print(f"{'method':<12} {'gap MAE (eV)':>12} {'metal acc.':>10} {'prototype p@5':>13}")
    for name in ("fingerprint", "pca", "composition"):
        print(
            f"{name:<12} {figures[f'{prefix}{name}_gap_mae_eV']:>12.3f} {figures[f'{prefix}{name}_metal_accuracy']:>10.3f} "
            f"{figures[f'{prefix}{name}_prototype_p_at_5']:>13.3f}"
        )
    print()


def replicated_vectors(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` fingerprints: real encodings of generated models, each replicated with noise."""
    models = generate(40, seed=99)
    model = load_model(device="cpu")
    base = model.encode([rasterise(m.record.segments, m.record.fermi_level) for m in models])
    spread = base.std(axis=0) + 1e-6
    picks = rng.integers(0, len(base), size=count)
    return (base[picks] + rng.normal(size=(count, base.shape[1])) * NOISE * spread).astype(np.float32)


def _literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.6g}" for x in vector) + "]"


def knn(vectors: np.ndarray, queries: np.ndarray, ef_search: list[int]) -> dict[str, float]:
    """Load the vectors and time top-10 queries: exact scan, numpy, then the HNSW index.

    Ground truth is float32 brute force in numpy.
    """
    result: dict[str, float] = {"vectors": len(vectors), "queries": len(queries)}
    truth, numpy_ms = [], []
    for q in queries:
        started = time.perf_counter()
        distances = ((vectors - q) ** 2).sum(axis=1)
        nearest = np.argpartition(distances, K)[:K]
        numpy_ms.append((time.perf_counter() - started) * 1000)
        truth.append(nearest[np.argsort(distances[nearest])].tolist())
    result["numpy_exact_p50_ms"], result["numpy_exact_p95_ms"] = np.percentile(numpy_ms, [50, 95])
    dim = vectors.shape[1]
    with tempfile.TemporaryDirectory(prefix="atlas2d-bench-") as tmp:
        url = start_embedded(Path(tmp) / "pgdata", database="bench")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(f"CREATE TABLE fp (id integer PRIMARY KEY, fingerprint vector({dim}))")
            started = time.perf_counter()
            with conn.cursor().copy("COPY fp (id, fingerprint) FROM STDIN") as copy:
                for i, v in enumerate(vectors):
                    copy.write_row((i, _literal(v)))
            result["load_s"] = time.perf_counter() - started
            conn.execute("VACUUM ANALYZE fp")
            indexed = f"SELECT id FROM fp ORDER BY fingerprint <-> %s::vector LIMIT {K}"
            found, pg_ms = _run(conn, indexed, queries)
            result["pg_exact_p50_ms"], result["pg_exact_p95_ms"] = np.percentile(pg_ms, [50, 95])
            result["pg_exact_recall_at_10"] = _recall(found, truth)
            conn.execute("SET maintenance_work_mem = '1GB'")
            started = time.perf_counter()
            conn.execute("CREATE INDEX ON fp USING hnsw (fingerprint vector_l2_ops) WITH (m = 16, ef_construction = 64)")
            result["hnsw_build_s"] = time.perf_counter() - started
            for ef in ef_search:
                conn.execute(f"SET hnsw.ef_search = {ef}")
                found, hnsw_ms = _run(conn, indexed, queries)
                result[f"knn_p50_ms_ef{ef}"], result[f"knn_p95_ms_ef{ef}"] = np.percentile(hnsw_ms, [50, 95])
                result[f"recall_at_10_ef{ef}"] = _recall(found, truth)
                result[f"speedup_vs_exact_ef{ef}"] = result["pg_exact_p50_ms"] / result[f"knn_p50_ms_ef{ef}"]
    return {k: float(v) for k, v in result.items()}


def _run(conn: psycopg.Connection, statement: str, queries: np.ndarray) -> tuple[list[list[int]], list[float]]:
    answers, times = [], []
    for q in queries:
        literal = _literal(q)
        started = time.perf_counter()
        rows = conn.execute(statement, (literal,), prepare=True).fetchall()
        times.append((time.perf_counter() - started) * 1000)
        answers.append([r[0] for r in rows])
    return answers, times


def _recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth, strict=True)]))


def main() -> None:
    parser = benchmark_parser(__doc__, "10,000 vectors, 20 models per family")
    parser.add_argument("--vectors", type=int, help="stored vectors for kNN (default 100,000; quick 10,000)")
    parser.add_argument("--queries", type=int, default=200, help="kNN queries per mode")
    parser.add_argument("--real", type=Path, metavar="INDEX", help="bands-gpaw index.csv to read (default: the bundled compact copy)")
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    per_family = 20 if args.quick else 150
    figures: dict[str, object] = {"quick": args.quick, "torch": torch.__version__, "threads": torch.get_num_threads()}
    real = from_index(args.real) if args.real else load_compact()
    comparison = real_comparison(real)
    comparison["metal_accuracy"] = comparison["fingerprint_metal_accuracy"]
    comparison["prototype_p_at_5"] = comparison["fingerprint_prototype_p_at_5"]
    print_comparison(comparison, "", f"all {len(real)} real materials, leave-one-out 5-NN (predicting the mean gap: "
                     f"{comparison['mean_gap_mae_eV']:.3f} eV)")
    if "held_out_materials" in comparison:
        print_comparison(comparison, "held_out_", f"the {comparison['held_out_materials']} real materials the weights never saw")
    figures.update(comparison)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    figures["cuda"] = "present" if "cuda" in devices else "not present: no GPU numbers"
    for device in devices:
        for key, value in throughput(device, per_family).items():
            figures[f"{device}_{key}"] = value
        figures[f"{device}_real_encode_per_s"] = real_encode_rate(real, device)
    figures["encode_per_s"] = figures["cpu_encode_per_s"]
    figures["load_average_1min"] = os.getloadavg()[0]
    count = args.vectors or (10_000 if args.quick else 100_000)
    vectors = replicated_vectors(count, rng)
    picked = vectors[rng.choice(count, size=args.queries, replace=False)]
    queries = picked + rng.normal(size=(args.queries, vectors.shape[1])).astype(np.float32) * 0.01
    figures.update(knn(vectors, queries, ef_search=[40, 64, 128]))
    report(figures, args.json, title="measure")


if __name__ == "__main__":
    main()
