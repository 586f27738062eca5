"""The scale benchmark's records: real 2DMatPedia records plus changed copies that the real adapter reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from atlas2d.ingest.records import Record
from atlas2d.ingest.sources.twodmatpedia import ADAPTER
from atlas2d.testdata.scaled import DUPLICATE_EVERY, real_records, scaled_record, write_jsonl


def _elements(record: dict) -> list[str]:
    return [site["species"][0]["element"] for site in record["structure"]["sites"]]


def test_copy_zero_is_the_real_record_and_copies_keep_its_values() -> None:
    n = len(real_records())
    assert n == 1000
    assert scaled_record(7) is real_records()[7]
    copy = scaled_record(2 * n + 7)
    real = real_records()[7]
    assert copy["material_id"] == f"{real['material_id']}-copy2"
    assert (copy["bandgap"], copy["sg_number"]) == (real["bandgap"], real["sg_number"])
    assert scaled_record(2 * n + 7) == copy


def test_a_changed_copy_renames_elements_one_to_one_and_strains_the_plane_only() -> None:
    n = len(real_records())
    real, copy = real_records()[11], scaled_record(2 * n + 11)
    mapping = dict(zip(_elements(real), _elements(copy), strict=True))
    assert len(set(mapping.values())) == len(mapping) and mapping != {e: e for e in mapping}
    before, after = np.array(real["structure"]["lattice"]["matrix"]), np.array(copy["structure"]["lattice"]["matrix"])
    ratio = np.linalg.norm(after[:2], axis=1) / np.linalg.norm(before[:2], axis=1)
    assert np.allclose(ratio, ratio[0]) and 0.97 <= ratio[0] <= 1.03 and ratio[0] != 1.0
    assert np.allclose(after[2], before[2])


def test_every_twentieth_copy_is_a_noisy_duplicate_of_the_copy_before() -> None:
    n = len(real_records())
    copy = DUPLICATE_EVERY + 1
    twin, original = scaled_record(copy * n + 3), scaled_record((copy - 1) * n + 3)
    assert _elements(twin) == _elements(original)
    moved = np.array([s["xyz"] for s in twin["structure"]["sites"]]) - np.array([s["xyz"] for s in original["structure"]["sites"]])
    assert 0 < np.abs(moved).max() <= 0.01


def test_the_real_adapter_reads_every_record(tmp_path: Path) -> None:
    n = len(real_records())
    path = write_jsonl(tmp_path / "scaled.jsonl", 2 * n - 5, 2 * n + 5)
    read = list(ADAPTER.checked(ADAPTER.read(path), path.name))
    assert len(read) == 10 and all(isinstance(r, Record) for r in read)
    assert len({r.source_key for r in read}) == 10
