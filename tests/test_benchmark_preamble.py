"""The benchmarks' shared command line and report, and both ways of starting a benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from atlas2d.testdata import REPO
from atlas2d.testdata.bench import benchmark_parser, format_value, report

BENCHMARKS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if p.stem != "__init__")


def test_every_benchmark_is_found() -> None:
    assert {"dedup", "export", "fingerprints", "ingest", "optimade_api"} <= set(BENCHMARKS)


def test_parser_has_quick_and_json_and_keeps_the_docstring(tmp_path: Path) -> None:
    parser = benchmark_parser("Benchmark of something.\n\n    python benchmarks/x.py --quick", "10 items")
    parser.add_argument("--items", type=int, default=100)
    args = parser.parse_args(["--quick", "--json", str(tmp_path / "out.json"), "--items", "5"])
    assert (args.quick, args.json, args.items) == (True, tmp_path / "out.json", 5)
    assert parser.parse_args([]).quick is False and parser.parse_args([]).json is None
    assert "python benchmarks/x.py --quick" in parser.format_help() and "10 items" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--json"])


def test_report_prints_every_figure_and_writes_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figures = {"knn_p50_ms": 1.23456, "vectors": 10000.0, "recall_at_10": 0.98, "device": "cpu", "per_filter": [{"a": 1}]}
    report(figures, tmp_path / "figures.json", title="measure")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["measure", "value"]
    assert lines[1:6] == [
        "knn_p50_ms    1.235",
        "vectors       10,000",
        "recall_at_10  0.98",
        "device        cpu",
        "per_filter    (1 items, in the JSON)",
    ]
    assert json.loads((tmp_path / "figures.json").read_text()) == figures
    report(figures, None)
    assert "wrote" not in capsys.readouterr().out


@pytest.mark.parametrize("value, shown", [(True, "True"), (None, "None"), (1234567, "1,234,567"), (0.5, "0.5"), (12345.678, "12,345.7")])
def test_format_value(value: object, shown: str) -> None:
    assert format_value(value) == shown


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_starts_as_a_script_and_as_a_module(name: str) -> None:
    """``--help`` both ways: the imports resolve without any sys.path edit, and the common options are there."""
    script = [sys.executable, str(REPO / "benchmarks" / f"{name}.py"), "--help"]
    module = [sys.executable, "-m", f"benchmarks.{name}", "--help"]
    for command in (script, module):
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "--quick" in done.stdout and "--json PATH" in done.stdout
