"""The real ``atlas2d fingerprint`` / ``similar-bands`` command lines against the test's store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

Run = Callable[..., CompletedProcess[str]]


def _ok(result: CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _said(result: CompletedProcess[str]) -> str:
    """The output of a successful run with rich's line wrapping undone."""
    return " ".join(_ok(result).split())


def test_generate_fingerprint_search_plot_and_map(atlas2d: Run, cli_env: str, tmp_path: Path) -> None:
    env = {"ATLAS2D_DATABASE_URL": cli_env, "COLUMNS": "200"}
    assert "24 new, 0 changed, 0 unchanged" in _said(atlas2d("fingerprint", "generate", "--per-family", "4", "--seed", "31", **env))

    first = _said(atlas2d("fingerprint", "--device", "auto", **env))
    assert "fingerprinted 24 of 24" in first
    assert "all 24 band structures have up-to-date fingerprints" in _said(atlas2d("fingerprint", **env))

    plot = tmp_path / "neighbours.png"
    table = _ok(atlas2d("similar-bands", "kagome-s31-00000", "--k", "5", "--plot", str(plot), **env))
    assert "kagome-s31-0000" in table
    assert plot.stat().st_size > 10_000
    rows = json.loads(_ok(atlas2d("similar-bands", "kagome-s31-00000", "--k", "5", "--format", "json", **env)))
    assert len(rows) == 5
    assert all(r["provenance"]["origin"] == "generated tight-binding" for r in rows)
    assert [r["distance"] for r in rows] == sorted(r["distance"] for r in rows)

    for colour in ("flat-band", "gap"):
        out = tmp_path / f"map-{colour}.png"
        _ok(atlas2d("fingerprint", "map", "--out", str(out), "--colour", colour, **env))
        assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("similar-bands", "no-such-entry"), "no entry with id or source key"),
        (("similar-bands", "999999"), "has no band structure"),
        (("similar-bands", "1", "--format", "xml"), "unknown format"),
        (("fingerprint", "map", "--out", "x.png", "--colour", "mood"), "unknown colour"),
        (("fingerprint", "map", "--out", "x.png"), "a map needs two"),
        (("fingerprint", "--weights", "missing.pt"), "no weights at missing.pt"),
        (("fingerprint", "map", "--out", "x.png", "--only", "imagined"), "unknown --only 'imagined'"),
        (("fingerprint", "train", "--out", "w.pt", "--real", "no-such-index.csv"), "cannot read the real band structures"),
    ],
)
def test_user_errors_are_one_line(atlas2d: Run, cli_env: str, args: tuple[str, ...], message: str) -> None:
    result = atlas2d(*args, ATLAS2D_DATABASE_URL=cli_env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unfingerprinted_query_says_what_to_run(atlas2d: Run, cli_env: str) -> None:
    _ok(atlas2d("fingerprint", "generate", "--per-family", "1", "--seed", "32", ATLAS2D_DATABASE_URL=cli_env))
    result = atlas2d("similar-bands", "dirac-s32-00000", ATLAS2D_DATABASE_URL=cli_env)
    assert result.returncode == 1
    assert "run 'atlas2d fingerprint'" in result.stderr


def test_help_explains_the_commands(atlas2d: Run) -> None:
    for args in (("fingerprint", "--help"), ("fingerprint", "train", "--help"), ("similar-bands", "--help")):
        out = _ok(atlas2d(*args))
        assert "Usage" in out
    assert "tight-binding" in _said(atlas2d("fingerprint", "generate", "--help"))
