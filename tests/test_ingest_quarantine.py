"""Broken records of every format land in quarantine with a reason; their neighbours go in.

Each format gets more than 50 hand-made breakages (built from real sample records by
damaging one thing at a time), written into one file between good records, so the test
also shows that a bad record never stops the run.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.samples import SAMPLES
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import Entry, Quarantine

Breakage = Callable[[dict[str, Any]], Any]

MC2D_ITEMS: list[dict[str, Any]] = json.loads((SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json").read_text())
TWODMATPEDIA_LINES = (SAMPLES / "2dmatpedia" / "2dmatpedia_sample.jsonl").read_text().splitlines()
C2DB_ROW: dict[str, Any] = json.loads((SAMPLES / "c2db" / "MoS2-165798ab5e18.structure.json").read_text())["1"]
EXPERIMENTAL_TEXT = (SAMPLES / "experimental" / "experimental_2d_monolayers.csv").read_text()


def _set(path: tuple[Any, ...], value: Any) -> Breakage:
    def damage(record: dict[str, Any]) -> dict[str, Any]:
        target = record
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return record

    return damage


def _apply(record: dict[str, Any], damage: Breakage) -> Any:
    return damage(copy.deepcopy(record))


def _overlap_mc2d(item: dict[str, Any]) -> dict[str, Any]:
    item["atomic_positions"][1][1:4] = item["atomic_positions"][0][1:4]
    return item


def _drop(key: str) -> Breakage:
    def damage(record: dict[str, Any]) -> dict[str, Any]:
        record.pop(key, None)
        return record

    return damage


MC2D_BREAKAGES: list[Breakage] = [
    _set(("atomic_positions",), []),
    _overlap_mc2d,
    _set(("cell", 0, 1), math.nan),
    _set(("cell", 1, 2), math.inf),
    _set(("atomic_positions", 0, 4), None),
    _set(("atomic_positions", 0, 4), "Qq"),
    _set(("band_gap",), "about 2 eV"),
    _set(("band_gap",), -1.0),
    _set(("band_gap",), True),
    _set(("tot_magnetization",), "high"),
    _set(("cell",), [["a1", 1, 0, 0], ["a2", 0, 1, 0]]),
    _set(("cell",), [["a1", 1.0, 0, 0], ["a2", 2.0, 0, 0], ["a3", 0, 0, 20.0]]),
    _set(("atomic_positions", 0), ["Mo", "x", 0, 0, "Mo"]),
    _set(("atomic_positions", 0), ["Mo"]),
    _drop("structure_label"),
    _set(("structure_label",), ""),
    _set(("structure_label",), 17),
    _drop("cell"),
    _set(("be_df2",), "n/a"),
    lambda item: ["not", "an", "object"],
]


def _mc2d_file(path: Path) -> tuple[list[str], list[str]]:
    good = MC2D_ITEMS[:10]
    broken = [_apply(MC2D_ITEMS[10 + i % 5], damage) for i, damage in enumerate(MC2D_BREAKAGES * 3)]
    items: list[Any] = []
    for i, bad in enumerate(broken):
        items.append(bad)
        if i < len(good):
            items.append(good[i])
    path.write_text(json.dumps(items, allow_nan=True))
    bad_locators = [f"{path.name}[{i}]" for i, item in enumerate(items) if not any(item is g for g in good)]
    return [g["structure_label"] for g in good], bad_locators


def _twodmatpedia_breakages() -> list[Callable[[str], str]]:
    def parsed(damage: Breakage) -> Callable[[str], str]:
        return lambda line: json.dumps(_apply(json.loads(line), damage), allow_nan=True)

    def overlap(item: dict[str, Any]) -> dict[str, Any]:
        item["structure"]["sites"][1]["abc"] = item["structure"]["sites"][0]["abc"]
        return item

    return [
        lambda line: line[: len(line) // 2],
        lambda line: "this is not json",
        lambda line: "[1, 2, 3]",
        lambda line: line + "}",
        lambda line: line.replace('"formula_pretty": "', '"formula_pretty": "\\u0000', 1),
        parsed(_set(("structure", "sites"), [])),
        parsed(overlap),
        parsed(_set(("structure", "lattice", "matrix", 0, 0), math.nan)),
        parsed(_set(("structure", "lattice", "matrix"), [[1, 0, 0], [2, 0, 0], [0, 0, 20]])),
        parsed(_set(("structure", "sites", 0, "species"), [{"element": "Zz", "occu": 1}])),
        parsed(_set(("structure", "sites", 0, "species"), [{"element": "Mo", "occu": 0.5}])),
        parsed(_set(("structure", "sites", 0, "species"), [{"element": "Mo", "occu": 0.5}, {"element": "W", "occu": 0.5}])),
        parsed(_set(("structure", "sites", 0, "abc"), ["a", 0, 0])),
        parsed(_set(("bandgap",), "n/a")),
        parsed(_set(("bandgap",), -0.5)),
        parsed(_set(("exfoliation_energy_per_atom",), [1, 2])),
        parsed(_drop("material_id")),
        parsed(_drop("structure")),
        parsed(_set(("_atlas2d_constructed",), "built by atlas2d")),
        parsed(_set(("structure",), "POSCAR text")),
        parsed(_set(("material_id",), None)),
    ]


def _twodmatpedia_file(path: Path) -> tuple[list[str], list[str]]:
    good = TWODMATPEDIA_LINES[:10]
    lines: list[str] = []
    bad_locators: list[str] = []
    for i, damage in enumerate(_twodmatpedia_breakages() * 3):
        base = TWODMATPEDIA_LINES[10 + i % 5]
        bad = damage(base).replace('"2dm-', f'"broken{i}-')
        lines.append(bad)
        bad_locators.append(f"{path.name}:{len(lines)}")
        if i < len(good):
            lines.append(good[i])
    path.write_text("\n".join(lines) + "\n")
    return [json.loads(g)["material_id"] for g in good], bad_locators


def _ndarray(values: list[Any], shape: list[int]) -> dict[str, Any]:
    return {"__ndarray__": [shape, "float64", values]}


def _c2db_breakages() -> list[Breakage]:
    positions = C2DB_ROW["positions"]["__ndarray__"][2]
    overlapping = positions[:3] + positions[:3] + positions[6:]
    return [
        _set(("numbers",), _ndarray([], [0])),
        _set(("numbers",), _ndarray([42, 16, 200], [3])),
        _set(("numbers",), _ndarray([42, 16, 0], [3])),
        _set(("numbers",), _ndarray([42, 16, 16.5], [3])),
        _set(("positions",), _ndarray(overlapping, [3, 3])),
        _set(("positions",), _ndarray(positions[:6], [2, 3])),
        _set(("positions",), "nowhere"),
        _set(("cell", "array"), _ndarray([math.nan] * 9, [3, 3])),
        _set(("cell", "array"), _ndarray([0.0] * 9, [3, 3])),
        _set(("cell", "array"), _ndarray([1.0] * 6, [2, 3])),
        _set(("energy",), "low"),
        _set(("energy",), math.inf),
        _set(("key_value_pairs",), {"gap": "wide"}),
        _set(("key_value_pairs",), {"gap": -2.0}),
        _set(("key_value_pairs",), {"hform": [1]}),
        _set(("key_value_pairs",), "not a mapping"),
        _drop("numbers"),
        _drop("cell"),
        _drop("positions"),
        _drop("unique_id"),
    ]


def _c2db_file(path: Path) -> tuple[list[str], list[str]]:
    rows: dict[str, Any] = {}
    good_keys: list[str] = []
    bad_locators: list[str] = []
    for i, damage in enumerate(_c2db_breakages() * 3):
        bad = _apply(C2DB_ROW, damage)
        if "unique_id" in bad:
            bad["unique_id"] = f"broken{i:030d}"
        rows[str(len(rows) + 1)] = bad
        bad_locators.append(f"{path.name}#{len(rows)}")
        if i < 10:
            good = copy.deepcopy(C2DB_ROW)
            good["unique_id"] = f"good{i:030d}"
            rows[str(len(rows) + 1)] = good
            good_keys.append(good["unique_id"])
    rows["ids"] = [int(k) for k in rows]
    rows["nextid"] = len(rows)
    path.write_text(json.dumps(rows, allow_nan=True))
    return good_keys, bad_locators


EXPERIMENTAL_BREAKAGES: list[Callable[[dict[str, str]], dict[str, str] | str]] = [
    lambda r: {**r, "property": "coolness"},
    lambda r: {**r, "value": "two"},
    lambda r: {**r, "value": ""},
    lambda r: {**r, "value": "nan"},
    lambda r: {**r, "value": "-1.0"},
    lambda r: {**r, "unit": "furlongs"},
    lambda r: {**r, "unit": "K"},
    lambda r: {**r, "formula": "Xx2S"},
    lambda r: {**r, "formula": "Mo(S2"},
    lambda r: {**r, "formula": ""},
    lambda r: {**r, "layers": "0"},
    lambda r: {**r, "layers": "1.5"},
    lambda r: {**r, "layers": "one"},
    lambda r: {**r, "temperature_K": "hot"},
    lambda r: {**r, "temperature_K": "inf"},
    lambda r: {**r, "value": "1e999"},
    lambda r: ",".join(list(r.values())[:4]),
    lambda r: ",".join(r.values()) + ",extra,fields",
    lambda r: {**r, "formula": "MoS2\x00"},
    lambda r: {**r, "property": ""},
]


def _experimental_file(path: Path) -> tuple[list[str], list[str]]:
    reader = list(csv.DictReader(io.StringIO(EXPERIMENTAL_TEXT)))
    header = list(reader[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    line = 1
    good_keys: list[str] = []
    bad_locators: list[str] = []
    for i, damage in enumerate(EXPERIMENTAL_BREAKAGES * 3):
        row = dict(reader[i % len(reader)])
        row["doi"] = f"10.0000/broken.{i}"
        bad = damage(row)
        if isinstance(bad, str):
            out.write(bad + "\n")
        else:
            writer.writerow(bad.values())
        line += 1
        bad_locators.append(f"{path.name}:{line}")
        if i < len(reader):
            writer.writerow(reader[i].values())
            line += 1
            good_keys.append(reader[i]["doi"])
    path.write_text(out.getvalue())
    return good_keys, bad_locators


@pytest.mark.parametrize(
    ("source", "build", "name"),
    [
        ("mc2d", _mc2d_file, "broken_mc2d.json"),
        ("2dmatpedia", _twodmatpedia_file, "broken_2dmatpedia.jsonl"),
        ("c2db", _c2db_file, "broken_c2db.json"),
        ("experimental", _experimental_file, "broken_experimental.csv"),
    ],
)
def test_broken_records_are_quarantined_and_good_ones_ingested(
    source: str, build: Callable[[Path], tuple[list[str], list[str]]], name: str, store_url: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    good, bad_locators = build(path)
    assert len(bad_locators) >= 50
    engine = make_engine(store_url)
    summary = ingest_files(engine, source, [path], batch_size=7)
    with Session(engine) as session:
        quarantined = dict(
            session.execute(select(Quarantine.locator, Quarantine.reason).where(Quarantine.source_file == name)).all()
        )
        keys = session.execute(select(Entry.source_key, Entry.raw)).all()
    engine.dispose()
    assert sorted(quarantined) == sorted(bad_locators)
    assert all(reason.strip() for reason in quarantined.values())
    assert summary.quarantined == len(bad_locators)
    assert summary.inserted == len(keys) == len(good)
    if source == "experimental":
        assert sorted(raw["doi"] for _, raw in keys) == sorted(good)
    else:
        assert sorted(key for key, _ in keys) == sorted(good)


def test_reasons_name_what_is_wrong(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "broken_mc2d.json"
    _mc2d_file(path)
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [path])
    with Session(engine) as session:
        reasons = set(session.execute(select(Quarantine.reason)).scalars())
    engine.dispose()
    expected_reasons = (
        "structure has no atoms", "overlapping atoms", "NaN", "unknown element", "band_gap is not a number", "band_gap is negative"
    )
    for expected in expected_reasons:
        assert any(expected in reason for reason in reasons), expected


def test_truncated_json_file_keeps_the_records_before_the_damage(store_url: str, tmp_path: Path) -> None:
    text = json.dumps(MC2D_ITEMS[:5])
    path = tmp_path / "truncated.json"
    path.write_text(text[: len(text) - 200])
    engine = make_engine(store_url)
    summary = ingest_files(engine, "mc2d", [path])
    engine.dispose()
    assert summary.inserted == 4
    assert summary.quarantined == 1
    assert [reason.split(" at ")[0] for reason in summary.reasons] == ["JSON syntax error"]


def test_an_unreadable_file_is_one_quarantined_record(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "garbage.json"
    path.write_bytes(b"\x00\xff\xfe garbage")
    engine = make_engine(store_url)
    for source in ("mc2d", "c2db", "optimade"):
        summary = ingest_files(engine, source, [path])
        assert (summary.inserted, summary.quarantined) == (0, 1), source
    engine.dispose()


def test_a_source_id_repeated_in_one_run_is_quarantined(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "twice.json"
    path.write_text(json.dumps([MC2D_ITEMS[0], MC2D_ITEMS[1], MC2D_ITEMS[0]]))
    engine = make_engine(store_url)
    summary = ingest_files(engine, "mc2d", [path])
    engine.dispose()
    assert (summary.inserted, summary.quarantined) == (2, 1)
    assert list(summary.reasons) == ["duplicate source id 'La2O2I2-0cdf5325' (first at twice.json[0])"]
