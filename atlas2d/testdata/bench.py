"""What every benchmark shares: its command line (``--quick``, ``--json PATH``) and its report.

A benchmark builds its parser with ``benchmark_parser``, adds its own options, measures, and
ends with ``report``: the figures as a table on stdout and, with ``--json PATH``, as JSON
whose keys carry their units (``knn_p50_ms``, ``entries_per_s``). It lives in the installed
package so that both ``python benchmarks/NAME.py`` and ``python -m benchmarks.NAME`` import
it without touching ``sys.path``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def benchmark_parser(doc: str, quick: str) -> argparse.ArgumentParser:
    """The common arguments; ``doc`` (the module docstring) is the help text, ``quick`` says what ``--quick`` runs."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"a small run for CI: {quick}")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures to this JSON file")
    return parser


def report(figures: Mapping[str, Any], json_path: Path | None, title: str = "figures") -> None:
    """Print ``figures`` as a two-column table and write them to ``json_path`` when given.

    Values that are not scalars (per-item lists) go to the JSON only; the table says so.
    """
    width = max((len(key) for key in figures), default=0)
    print(f"{title:<{width}}  value")
    for key, value in figures.items():
        print(f"{key:<{width}}  {format_value(value)}")
    if json_path is not None:
        json_path.write_text(json.dumps(figures, indent=1, default=str) + "\n")
        print(f"wrote {json_path}")


def format_value(value: Any) -> str:
    """A figure as the table shows it: whole numbers with thousands separators, other floats to 4 significant digits."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float) and value.is_integer():
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, (list, tuple, dict)):
        return f"({len(value)} items, in the JSON)"
    return str(value)
