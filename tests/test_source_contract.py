"""Every registered source adapter keeps the contract of ``atlas2d.ingest.sources.base``.

Parametrised over the registry itself (the ``atlas2d.sources`` entry points), so an adapter
added later is checked without touching this file: it must survive an empty file and a
truncated file of every bundled format without raising, yield only records, band records
and rejections, and locate each by the file it read. The adapters with a bundled sample
must read it whole without a rejection and notice when it is cut short, and their records
must carry the constructed mark exactly when the adapter says it builds its records.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atlas2d.ingest.band_records import BandRecord
from atlas2d.ingest.records import Record, Rejected, SourceInfo
from atlas2d.ingest.samples import bundled
from atlas2d.ingest.sources.base import CONSTRUCTED_MARK, Adapter, Item
from atlas2d.ingest.sources.registry import registry

SAMPLES = dict(bundled())
"""Source name -> its bundled sample files."""

SAMPLE_FILES = sorted(path for paths in SAMPLES.values() for path in paths)

EMPTY_NAMES = ("empty.json", "empty.jsonl", "empty.csv", "empty.db")
"""An empty file under each suffix the adapters treat differently (``.db`` is SQLite for C2DB)."""


def _truncated(text: str) -> str:
    """``text`` cut in the middle of a record: halfway, moved off a line end so no line stays whole."""
    cut = len(text) // 2
    while cut > 1 and text[cut - 1] in "\n,":
        cut -= 1
    return text[:cut]


def _read(adapter: Adapter, path: Path) -> list[Item]:
    """Everything ``read`` yields for ``path``, checked for type and locator; the file stays as it was."""
    before = path.read_bytes()
    items = list(adapter.read(path))
    assert path.read_bytes() == before, f"{adapter.name} changed {path.name} while reading it"
    for item in items:
        assert isinstance(item, Record | BandRecord | Rejected), f"{adapter.name} yielded a {type(item).__name__}"
        locator = item.locator if isinstance(item, Rejected) else (item.entry.locator if isinstance(item, BandRecord) else item.locator)
        assert locator.startswith(path.name), f"{adapter.name}: locator {locator!r} does not name {path.name}"
    return items


def _entries(items: list[Item]) -> list[Record]:
    return [i.entry if isinstance(i, BandRecord) else i for i in items if not isinstance(i, Rejected)]


def test_the_registry_holds_atlas2d_sources_and_each_sample_has_its_adapter() -> None:
    sources = registry()
    assert sources.broken == {}
    assert {"c2db", "2dmatpedia", "mc2d", "experimental", "optimade", "tight-binding-generated"} <= set(sources.adapters)
    assert set(SAMPLES) <= set(sources.adapters)
    assert all(name == adapter.source.name for name, adapter in sources.adapters.items())


@pytest.mark.parametrize("name", sorted(registry().adapters))
def test_adapter_survives_empty_and_truncated_files(name: str, tmp_path: Path) -> None:
    adapter = registry().adapter(name)
    for empty in EMPTY_NAMES:
        path = tmp_path / empty
        path.write_bytes(b"")
        assert _entries(_read(adapter, path)) == [], f"{name} made a record of the empty {empty}"
    for sample in SAMPLE_FILES:
        path = tmp_path / f"truncated-{sample.name}"
        path.write_text(_truncated(sample.read_text()))
        _read(adapter, path)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_adapter_reads_its_sample_whole_and_notices_a_truncated_one(name: str, tmp_path: Path) -> None:
    adapter = registry().adapter(name)
    for sample in SAMPLES[name]:
        whole = _read(adapter, sample)
        assert whole and not [i for i in whole if isinstance(i, Rejected)], f"{sample.name} is not clean under {name}"
        path = tmp_path / sample.name
        path.write_text(_truncated(sample.read_text()))
        cut = _read(adapter, path)
        assert any(isinstance(i, Rejected) for i in cut), f"{name} did not notice that {sample.name} was cut short"
        assert len(_entries(cut)) < len(_entries(whole))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_constructed_records_carry_the_mark_exactly_when_the_adapter_builds_them(name: str) -> None:
    adapter = registry().adapter(name)
    for sample in SAMPLES[name]:
        entries = _entries(_read(adapter, sample))
        assert entries
        assert all((CONSTRUCTED_MARK in entry.raw) is adapter.constructed for entry in entries), name
    if adapter.constructed:
        assert "constructed" in adapter.source.name or "generated" in adapter.source.name


def test_checked_refuses_what_breaks_the_contract(tmp_path: Path) -> None:
    """The pipeline's view of an adapter: contract breaches become rejections, a reader bug one rejection."""
    real = registry().adapter("2dmatpedia")
    constructed = Adapter(SourceInfo(name="2dmatpedia-constructed", title="constructed lines"), "test", real.read, constructed=True)
    unmarked = SAMPLES["2dmatpedia"][0]
    marked = tmp_path / "marked.jsonl"
    lines = unmarked.read_text().splitlines()
    marked.write_text("".join(json.dumps({**json.loads(line), CONSTRUCTED_MARK: "built by atlas2d"}) + "\n" for line in lines))
    refused = list(real.checked(real.read(marked), marked.name))
    assert refused and all(isinstance(i, Rejected) and i.reason.startswith("a constructed record is not 2dmatpedia data") for i in refused)
    refused = list(constructed.checked(constructed.read(unmarked), unmarked.name))
    assert refused and all(isinstance(i, Rejected) and "must carry '_atlas2d_constructed'" in i.reason for i in refused)

    def buggy(path: Path):  # noqa: ANN202 - a reader that breaks the contract
        yield from real.read(unmarked)
        yield "not a record"
        raise RuntimeError("adapter bug")

    broken = Adapter(real.source, "test", buggy)
    items = list(broken.checked(broken.read(unmarked), unmarked.name))
    good = [i for i in items if isinstance(i, Record)]
    assert len(good) == len(unmarked.read_text().splitlines())
    assert [(i.locator, i.reason) for i in items if isinstance(i, Rejected)] == [
        (unmarked.name, "the 2dmatpedia reader yielded a str, not a record"),
        (unmarked.name, "the 2dmatpedia reader failed (an adapter bug): RuntimeError: adapter bug"),
    ]
