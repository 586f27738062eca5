"""The limits of ``atlas2d.ingest.limits`` and the readers' answers to hostile files, checked without a database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from atlas2d.ingest.formulas import parse_formula
from atlas2d.ingest.geometry import layer_from_arrays
from atlas2d.ingest.limits import MAX_DEPTH, MAX_SOURCE_KEY, MIN_LAYER_VACUUM, check_record
from atlas2d.ingest.records import HarmonizationError, Record, Rejected, Value
from atlas2d.ingest.samples import SAMPLES
from atlas2d.ingest.sources.registry import adapter

MOS2_LATTICE = [[3.19, 0.0, 0.0], [-1.595, 2.7626, 0.0], [0.0, 0.0, 20.0]]
MOS2_POSITIONS = [[0.0, 0.0, 10.0], [1.595, 0.9209, 11.56], [1.595, 0.9209, 8.44]]


def _grid_cell(n_side: int, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    lattice = np.diag([n_side * spacing, n_side * spacing, 20.0])
    ij = np.stack(np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij"), axis=-1).reshape(-1, 2) * spacing
    return lattice, np.column_stack([ij, np.full(len(ij), 10.0)])


def test_a_valid_10000_atom_cell_is_accepted_and_an_overlap_in_it_found() -> None:
    """All pair distances of the tiled cell would be 9n x 9n / 2 = 4e9 (30 GiB); the neighbour tree needs memory linear in n."""
    lattice, positions = _grid_cell(100, 2.5)
    layer = layer_from_arrays(lattice, positions, ["C"] * len(positions), cartesian=True)
    assert len(layer.species) == 10_000
    positions[5_000] = positions[5_001] + [0.2, 0.0, 0.0]
    with pytest.raises(HarmonizationError, match="overlapping atoms: two sites 0.200 Å apart"):
        layer_from_arrays(lattice, positions, ["C"] * len(positions), cartesian=True)


def test_a_site_too_close_to_its_own_image_is_an_overlap() -> None:
    with pytest.raises(HarmonizationError, match="overlapping atoms"):
        layer_from_arrays(np.diag([0.4, 3.0, 20.0]), [[0.0, 0.0, 10.0]], ["C"], cartesian=True)


@pytest.mark.parametrize("x", [1e308, 1e4, -40.0])
def test_a_site_far_outside_the_cell_is_refused_not_wrapped(x: float) -> None:
    positions = [list(p) for p in MOS2_POSITIONS]
    positions[0][0] = x
    with pytest.raises(HarmonizationError, match="outside the cell|not finite"):
        layer_from_arrays(MOS2_LATTICE, positions, ["Mo", "S", "S"], cartesian=True)


def test_a_site_just_outside_the_cell_is_wrapped_as_sources_write_them() -> None:
    positions = [list(p) for p in MOS2_POSITIONS]
    positions[0][0] = -3.0
    layer = layer_from_arrays(MOS2_LATTICE, positions, ["Mo", "S", "S"], cartesian=True)
    assert np.all(layer.positions[:, 0] >= -1e-9)


@pytest.mark.parametrize("symbol", ["D", "T", "X", "Xx", "Uue"])
def test_only_real_elements(symbol: str) -> None:
    with pytest.raises(HarmonizationError, match="unknown element"):
        layer_from_arrays(MOS2_LATTICE, MOS2_POSITIONS, ["Mo", "S", symbol], cartesian=True)
    with pytest.raises(HarmonizationError, match="unknown element"):
        parse_formula(f"Mo{symbol}2")


def _record(**changes: Any) -> Record:
    record = Record(source_key="key-1", chemical_formula_reduced="MoS2", raw={"a": 1}, values=[])
    for name, value in changes.items():
        setattr(record, name, value)
    return record


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels - 1):
        value = [value]
    return {"x": value}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"source_key": "k" * (MAX_SOURCE_KEY + 1)}, "source id is 513 characters long, the limit is 512"),
        ({"source_key": "key\ud800"}, "source id holds a lone surrogate"),
        ({"source_key": "key\x00"}, "source id holds a NUL character"),
        ({"chemical_formula_reduced": "Mo" * 300}, "chemical_formula_reduced is 600 characters long"),
        ({"raw": _nested(MAX_DEPTH + 1)}, "raw record is nested deeper than 254 levels"),
        ({"raw": {"n": 2**64}}, "raw record cannot be stored as JSON: Integer exceeds 64-bit range"),
        ({"raw": {"note": "bad \ud800"}}, "raw record cannot be stored as JSON"),
        ({"raw": {"note": "a\x00b"}}, "raw record holds a NUL character"),
        ({"space_group": 10**30}, "space group 1000000000000000000000000000000 is not a number from 1 to 230"),
        ({"values": [Value("band_gap", 31.0, "eV", "PBE", "gap")]}, "gap = 31.0 eV is outside the physical range 0-30"),
        ({"values": [Value("total_energy", 1e308, "eV", "PBE", "energy")]}, "energy = 1e+308 is out of range"),
        ({"values": [Value("optical_gap", 1.9, "eV", "expt:" + "t" * 60, "value")]}, "optical_gap method is 65 characters long"),
        ({"values": [Value("optical_gap", 1.9, "eV", "expt:pl", "value", conditions={"layers": 10**30})]}, "conditions cannot be stored"),
    ],
)
def test_a_record_outside_the_limits_is_refused_with_the_limit_named(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(HarmonizationError) as error:
        check_record(_record(**changes))
    assert reason in str(error.value)


def test_records_at_the_limits_pass() -> None:
    check_record(_record(source_key="k" * MAX_SOURCE_KEY, raw=_nested(MAX_DEPTH), values=[Value("band_gap", 30.0, "eV", "PBE", "gap")]))


def _read(source: str, path: Path) -> list[Record | Rejected]:
    reader = adapter(source)
    return list(reader.checked(reader.read(path), path.name))


def _resource(**attributes: Any) -> dict[str, Any]:
    base = {
        "lattice_vectors": MOS2_LATTICE,
        "cartesian_site_positions": MOS2_POSITIONS,
        "species_at_sites": ["Mo", "S", "S"],
        "species": [{"name": s, "chemical_symbols": [s], "concentration": [1.0]} for s in ("Mo", "S")],
        "dimension_types": [1, 1, 0],
    }
    return {"id": "r1", "type": "structures", "attributes": {**base, **attributes}}


def test_optimade_3d_bulk_is_quarantined_and_a_3d_slab_kept(tmp_path: Path) -> None:
    bulk = _resource(dimension_types=[1, 1, 1], lattice_vectors=[*MOS2_LATTICE[:2], [0.0, 0.0, 6.2]])
    bulk["attributes"]["cartesian_site_positions"] = [[0.0, 0.0, 3.1], [1.595, 0.9209, 4.66], [1.595, 0.9209, 1.54]]
    slab = _resource(dimension_types=[1, 1, 1])
    slab["id"] = "r2"
    path = tmp_path / "structures.json"
    path.write_text(json.dumps({"data": [bulk, slab], "meta": {"provider": {"prefix": "prov"}}}))
    refused, kept = _read("optimade", path)
    assert isinstance(refused, Rejected)
    assert f"no lattice vector along which it has {MIN_LAYER_VACUUM:g} Å of vacuum" in refused.reason
    assert isinstance(kept, Record) and kept.layer is not None
    assert kept.layer.vacuum == pytest.approx(20.0 - 3.12, abs=1e-6)


def test_optimade_keeps_species_names_provider_and_references_in_the_raw_record(tmp_path: Path) -> None:
    resource = _resource(
        species_at_sites=["Mo", "S1", "S2"],
        species=[{"name": "Mo", "chemical_symbols": ["Mo"], "concentration": [1.0]}]
        + [{"name": n, "chemical_symbols": ["S"], "concentration": [1.0]} for n in ("S1", "S2")],
        last_modified="2023-05-01T00:00:00Z",
        immutable_id="abc-123",
    )
    resource["relationships"] = {"references": {"data": [{"type": "references", "id": "ref1"}]}}
    reference = {"type": "references", "id": "ref1", "attributes": {"doi": "10.1/x"}}
    document = {"data": [resource], "meta": {"provider": {"prefix": "prov", "name": "Provider"}}, "included": [reference]}
    path = tmp_path / "structures.json"
    path.write_text(json.dumps(document))
    (record,) = _read("optimade", path)
    assert isinstance(record, Record) and record.layer is not None
    assert record.source_key == "prov:r1"
    assert record.layer.species == ("Mo", "S", "S")
    assert record.raw["attributes"]["species_at_sites"] == ["Mo", "S1", "S2"]
    assert record.raw["attributes"]["immutable_id"] == "abc-123"
    assert record.raw["attributes"]["last_modified"] == "2023-05-01T00:00:00Z"
    assert record.raw["_optimade_provider"] == {"prefix": "prov", "name": "Provider"}
    assert record.raw["_optimade_references"] == [reference]


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        ([1, 2], "meta is a list, not an object"),
        ({"provider": "prov"}, "meta.provider is a str, not an object"),
        ({"provider": {"prefix": "pr\x00ov"}}, "meta.provider.prefix 'pr\\x00ov' is not an OPTIMADE prefix"),
    ],
)
def test_optimade_provider_that_cannot_key_records_quarantines_each_one(tmp_path: Path, meta: Any, reason: str) -> None:
    path = tmp_path / "structures.json"
    path.write_text(json.dumps({"data": [_resource(), _resource()], "meta": meta}))
    items = _read("optimade", path)
    assert [type(item) for item in items] == [Rejected, Rejected]
    assert [item.locator for item in items] == ["structures.json[0]", "structures.json[1]"]
    assert all(reason in item.reason for item in items if isinstance(item, Rejected))
    assert "atlas2d init" not in items[0].reason


def test_c2db_rows_under_non_numeric_keys_are_quarantined(tmp_path: Path) -> None:
    row = json.loads((SAMPLES / "c2db" / "MoS2-165798ab5e18.structure.json").read_text())["1"]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"1": row, "abc": row, "\u00b2": row, "ids": [1], "nextid": 2}))
    items = _read("c2db", path)
    rejected = {item.locator: item.reason for item in items if isinstance(item, Rejected)}
    assert set(rejected) == {"rows.json#abc", "rows.json#\u00b2"}
    assert all("is not an ASE row id" in reason for reason in rejected.values())
    assert sum(isinstance(item, Record) for item in items) == 1


def test_json_nested_5000_levels_and_a_csv_field_over_the_parser_limit_are_quarantined(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    items = json.loads((SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json").read_text())[:2]
    deep.write_text(json.dumps(items)[:-1] + ", " + "[" * 5000 + "]" * 5000 + "]")
    read = _read("mc2d", deep)
    assert [type(item) for item in read] == [Record, Record, Rejected]
    assert read[2].locator == "deep.json[2]" and "nested too deeply" in read[2].reason
    text = (SAMPLES / "experimental" / "experimental_2d_monolayers.csv").read_text().splitlines()
    wide = tmp_path / "wide.csv"
    wide.write_text("\ufeff" + "\n".join([text[0], text[1] + "x" * 200_000, text[2]]) + "\n")
    first, second = _read("experimental", wide)
    assert isinstance(first, Rejected) and "field larger than field limit" in first.reason and first.locator == "wide.csv:2"
    assert isinstance(second, Record)
