"""Hostile HTTP requests against ``atlas2d serve``: how many get a 5xx, how many connections drop.

The corpus (``atlas2d.testdata.fuzz_http``, seeded) holds every route with bad numbers,
NUL bytes, broken encodings, long strings, deep and mistyped filters, unknown parameters
and other methods. It goes to a real ``atlas2d serve`` over a store of real poscar2d
monolayers and, as the peer, to the ``optimade`` reference server with its own test data,
both on 127.0.0.1, four clients at a time, one connection per request.

A fault is a 5xx other than the 501 and 553 the OPTIMADE specification prescribes; a dropped
connection is one that closed without a complete response. Both must be 0 for atlas2d.

    python benchmarks/http_fuzz.py [--quick] [--json PATH] [--requests N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from atlas2d.testdata.bench import benchmark_parser
from atlas2d.testdata.fuzz_http import SPEC_5XX, Tally, fire, http_corpus


def load_store(workdir: Path, n: int) -> str:
    """An embedded store with ``n`` real poscar2d structures; returns its URL."""
    from sqlalchemy.orm import Session

    from atlas2d.schema.database import make_engine, start_embedded
    from atlas2d.schema.migrate import upgrade
    from atlas2d.testdata.poscar import poscar_structures, seed_store, structure_record

    url = start_embedded(workdir / "pgdata", database="fuzz_bench")
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        seed_store(session, [structure_record(key, s) for key, s in poscar_structures(n)])
    engine.dispose()
    return url


def serve_reference(port: int, log_dir: Path) -> None:
    """``--serve-reference``: the optimade reference server with its bundled test data."""
    import uvicorn
    from optimade.server.config import ServerConfig
    from optimade.server.create_app import create_app

    app = create_app(ServerConfig(insert_test_data=True, database_backend="mongomock", log_dir=log_dir), logger_tag="reference")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def summary(name: str, tally: Tally, log: Path) -> dict[str, Any]:
    """The JSON record of one server's run."""
    text = log.read_text(errors="replace")
    return {
        "server": name,
        "requests": tally.requests,
        "responses_5xx": tally.responses_5xx,
        "responses_500": tally.statuses.get(500, 0),
        "responses_spec_5xx": tally.responses_spec_5xx,
        "dropped_connections": len(tally.dropped),
        "asgi_exceptions_logged": text.count("Exception in ASGI application"),
        "seconds": round(tally.seconds, 1),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "fault_examples": [f"{o.status} {o.request.method} {o.request.target[:160]}" for o in tally.faults[:10]],
        "dropped_examples": [f"{r.method} {r.target[:160]}" for r in tally.dropped[:10]],
    }


def main() -> None:
    parser = benchmark_parser(__doc__, "600 requests")
    parser.add_argument("--requests", type=int, default=None, help="corpus size (default 6000)")
    parser.add_argument("--seed", type=int, default=18, help="corpus seed (default 18)")
    parser.add_argument("--structures", type=int, default=40, help="real structures in the store (default 40)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference server (the peer)")
    parser.add_argument("--serve-reference", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--log-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.serve_reference:
        serve_reference(args.port, args.log_dir)
        return
    size = args.requests or (600 if args.quick else 6000)
    corpus = http_corpus(size, args.seed)

    from atlas2d.testdata.servers import atlas2d_server, running

    results = []
    with tempfile.TemporaryDirectory(prefix="atlas2d-http-fuzz-") as tmp:
        workdir = Path(tmp)
        url = load_store(workdir, args.structures)
        log = workdir / "atlas2d.log"
        with atlas2d_server(url, log=log) as base:
            print(f"atlas2d serve: {size} requests (seed {args.seed})", flush=True)
            results.append(summary("atlas2d", fire("127.0.0.1", int(base.rsplit(":", 1)[1]), corpus), log))
        if not args.no_reference:
            ref_log = workdir / "reference.log"
            command = [sys.executable, __file__, "--serve-reference", "--port", "{port}", "--log-dir", str(workdir / "ref-logs")]
            with running(command, "/v1/info", log=ref_log) as base:
                print(f"optimade reference server: {size} requests", flush=True)
                results.append(summary("optimade reference", fire("127.0.0.1", int(base.rsplit(":", 1)[1]), corpus), ref_log))
    report(results, args.json)


def report(results: list[dict[str, Any]], json_path: Path | None) -> None:
    """Print the table (and the faults' first examples); write the JSON when asked."""
    columns = ("requests", "responses_5xx", "responses_500", "responses_spec_5xx", "dropped_connections")
    columns += ("asgi_exceptions_logged", "seconds")
    print()
    print(f"{'server':20}" + "".join(f"{c:>24}" for c in columns))
    for r in results:
        print(f"{r['server']:20}" + "".join(f"{r[c]!s:>24}" for c in columns))
    for r in results:
        print(f"\n{r['server']} statuses: {r['statuses']} (spec 5xx: {sorted(SPEC_5XX)})")
        for line in r["fault_examples"] + [f"dropped: {d}" for d in r["dropped_examples"]]:
            print(f"  {line}")
    if json_path:
        ours, *peer = results
        json_path.write_text(json.dumps(ours | ({"reference": peer[0]} if peer else {}), indent=1))


if __name__ == "__main__":
    main()
