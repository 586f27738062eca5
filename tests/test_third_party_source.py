"""A source from outside atlas2d: the example in docs/DEVELOPING.md, installed the way pip would.

The module and its entry-point line are cut out of DEVELOPING.md, written as a package with
its ``*.dist-info`` (``METADATA`` and ``entry_points.txt``, what pip writes) into a folder,
and that folder is put on ``PYTHONPATH`` of the real ``atlas2d`` command line. So the
documented example is what runs, and nothing in atlas2d is edited or mocked. A second
package registers a source whose module does not exist.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.ingest.samples import SAMPLES
from atlas2d.ingest.sources.registry import ENTRY_POINT_GROUP, SourceError, load_registry
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import Entry, Material, PropertyValue, Quarantine, Source
from atlas2d.testdata import REPO

Run = Callable[..., CompletedProcess[str]]

DEVELOPING = REPO / "docs" / "DEVELOPING.md"


def _block(marker: str, language: str) -> str:
    """The fenced ``language`` block that follows ``<!-- marker`` in DEVELOPING.md."""
    text = DEVELOPING.read_text()
    after = text[text.index(f"<!-- {marker}") :]
    return after.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def _install(site: Path, name: str, points: dict[str, dict[str, str]]) -> None:
    """The ``*.dist-info`` pip writes for a package with these entry points."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "".join(f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in entries.items()) for group, entries in points.items())
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder holding the DEVELOPING example as an installed package, and a broken package."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "gap_list.py").write_text(_block("example source", "python"))
    _install(folder, "atlas2d_gap_list", tomllib.loads(_block("example entry point", "toml"))["project"]["entry-points"])
    _install(folder, "broken_source", {ENTRY_POINT_GROUP: {"broken-source": "no_such_module:ADAPTER"}})
    return folder


def _said(result: CompletedProcess[str]) -> str:
    return " ".join(result.stdout.split())


def test_the_documented_example_source_ingests_through_the_command_line(atlas2d: Run, cli_env: str, site: Path, tmp_path: Path) -> None:
    gaps = tmp_path / "gaps.txt"
    gaps.write_text("MoS2 1.8\nWSe2 1.65\nMoQ2 1.0\nWS2 wide\n")
    env = {"ATLAS2D_DATABASE_URL": cli_env, "PYTHONPATH": str(site), "COLUMNS": "300"}

    result = atlas2d("ingest", "gap-list", str(gaps), **env)
    assert result.returncode == 0, result.stderr
    assert "gap-list" in _said(result)

    engine = make_engine(cli_env)
    with Session(engine) as session:
        values = dict(
            session.execute(
                select(Entry.source_key, PropertyValue.value).join(PropertyValue).join(Source).where(Source.name == "gap-list")
            ).all()
        )
        quarantined = dict(session.execute(select(Quarantine.locator, Quarantine.reason)).all())
        materials = session.execute(select(Material.chemical_formula_reduced)).scalars().all()
    engine.dispose()
    assert values == {"MoS2": pytest.approx(1.8), "WSe2": pytest.approx(1.65)}
    assert sorted(materials) == ["MoS2", "Se2W"]
    assert set(quarantined) == {"gaps.txt:3", "gaps.txt:4"}
    assert quarantined["gaps.txt:3"] == "unknown element 'Q'"
    assert quarantined["gaps.txt:4"] == "gap is not a number: 'wide'"

    again = atlas2d("ingest", "gap-list", str(gaps), **env)
    assert again.returncode == 0, again.stderr


def test_a_broken_source_package_is_named_and_breaks_nothing_else(atlas2d: Run, cli_env: str, site: Path) -> None:
    env = {"ATLAS2D_DATABASE_URL": cli_env, "PYTHONPATH": str(site), "COLUMNS": "400"}
    broken = atlas2d("ingest", "broken-source", str(SAMPLES / "c2db"), **env)
    assert broken.returncode == 1
    assert "Traceback" not in broken.stderr and len(broken.stderr.strip().splitlines()) == 1
    assert "source 'broken-source' cannot be used" in broken.stderr
    assert "broken_source 1.0 does not load: ModuleNotFoundError" in broken.stderr

    helped = atlas2d("ingest", "--help", **env)
    assert helped.returncode == 0, helped.stderr
    assert "gap-list: lines 'formula gap_eV'" in _said(helped)
    assert "broken-source: unusable" in _said(helped)

    c2db = atlas2d("ingest", "c2db", str(SAMPLES / "c2db"), **env)
    assert c2db.returncode == 0, c2db.stderr
    unknown = atlas2d("ingest", "no-such-source", str(SAMPLES / "c2db"), **env)
    assert unknown.returncode == 1
    assert "unknown source 'no-such-source': choose one of" in unknown.stderr and "gap-list" in unknown.stderr


def _point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_registry_keeps_unusable_entry_points_aside_with_the_reason() -> None:
    sources = load_registry(
        [
            _point("c2db", "atlas2d.ingest.sources.c2db:ADAPTER"),
            _point("mc2d", "atlas2d.ingest.sources.c2db:ADAPTER"),
            _point("experimental", "atlas2d.ingest.sources.experimental:read"),
            _point("optimade", "atlas2d.ingest.sources.optimade_json:ADAPTER"),
            _point("optimade", "atlas2d.ingest.sources.optimade_json:ADAPTER"),
            _point("missing", "atlas2d.ingest.sources.c2db:NO_SUCH_NAME"),
        ]
    )
    assert list(sources.adapters) == ["c2db"]
    assert sources.adapter("c2db").source.name == "c2db"
    assert "holds the source 'c2db'; the entry-point name must be the source name" in sources.broken["mc2d"]
    assert "is a function, not an atlas2d.ingest.sources.base.Adapter" in sources.broken["experimental"]
    assert sources.broken["optimade"].startswith("registered twice")
    assert "does not load: AttributeError" in sources.broken["missing"]
    with pytest.raises(SourceError, match="source 'missing' cannot be used: entry point 'missing = "):
        sources.adapter("missing")
    with pytest.raises(SourceError, match="unknown source 'nope': choose one of c2db$"):
        sources.adapter("nope")
    with pytest.raises(SourceError, match="no source is registered"):
        load_registry([]).adapter("c2db")
