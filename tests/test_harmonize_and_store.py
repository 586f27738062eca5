"""The 2D convention and the idempotent store writer, on a real MC2D record."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atlas2d.ingest.formulas import anonymous_formula, reduced_formula
from atlas2d.ingest.geometry import to_2d_convention
from atlas2d.ingest.records import HarmonizationError, Record, Rejected, SourceInfo, Value
from atlas2d.ingest.store import ensure_source, quarantine, write_records
from atlas2d.schema.models import (
    Entry,
    EntryRevision,
    Material,
    PropertyValue,
    Quarantine,
)
from atlas2d.schema.models import Structure as StructureRow
from atlas2d.testdata import SHARED_DATA

MOS2 = Structure(
    Lattice.from_parameters(3.19, 3.19, 20.0, 90, 90, 120),
    ["Mo", "S", "S"],
    [[0, 0, 0.5], [1 / 3, 2 / 3, 0.578], [1 / 3, 2 / 3, 0.422]],
)


def test_formulas_follow_optimade() -> None:
    assert reduced_formula({"S": 4, "Mo": 2}) == "MoS2"
    assert reduced_formula({"O": 2, "La": 2, "I": 2}) == "ILaO"
    assert anonymous_formula({"S": 4, "Mo": 2}) == "A2B"
    assert anonymous_formula({"Ta": 16, "Ti": 8, "Zn": 16, "O": 64}) == "A8B2C2D"


def test_layer_is_rotated_centred_and_measured_independently_of_vacuum_and_wrap() -> None:
    wrapped = Structure(MOS2.lattice, MOS2.species, [[0, 0, 0], [1 / 3, 2 / 3, 0.078], [1 / 3, 2 / 3, -0.078]])
    tilted = Structure(
        Lattice([[0, 3.19, 0], [-2.7626, -1.595, 0], [0.5, 0.3, 30.0]]),
        ["Mo", "S", "S"],
        [[0, 0, 0.5], [1 / 3, 2 / 3, 0.552], [1 / 3, 2 / 3, 0.448]],
    )
    for structure in (MOS2, wrapped, tilted):
        layer = to_2d_convention(structure)
        matrix = layer.structure.lattice.matrix
        assert matrix[0, 1] == pytest.approx(0) and matrix[:2, 2] == pytest.approx([0, 0])
        assert matrix[2, :2] == pytest.approx([0, 0])
        z = layer.structure.cart_coords[:, 2]
        assert (z.max() + z.min()) / 2 == pytest.approx(matrix[2, 2] / 2)
        assert layer.thickness == pytest.approx(3.12, abs=0.01)
        assert layer.vacuum == pytest.approx(matrix[2, 2] - 3.12, abs=0.01)
        assert layer.structure.lattice.pbc == (True, True, False)


@pytest.mark.parametrize(
    ("species", "coords", "reason"),
    [
        (["Mo", "Mo"], [[0, 0, 0.5], [0.01, 0, 0.5]], "overlapping"),
        (["Xx"], [[0, 0, 0.5]], "unknown element"),
    ],
)
def test_broken_structures_are_refused_with_a_reason(species: list[str], coords: list, reason: str) -> None:
    with pytest.raises((HarmonizationError, ValueError), match=reason):
        to_2d_convention(Structure(MOS2.lattice, species, coords))


def test_nan_lattice_is_refused() -> None:
    matrix = np.eye(3) * 3
    matrix[0, 0] = float("nan")
    with pytest.raises(HarmonizationError, match="NaN"):
        to_2d_convention(Structure(Lattice(matrix), ["Mo"], [[0, 0, 0]]))


def _mc2d_record(raw: dict) -> Record:
    structure = Structure(
        [row[1:] for row in raw["cell"]],
        [a[0] for a in raw["atomic_positions"]],
        [a[1:4] for a in raw["atomic_positions"]],
        coords_are_cartesian=True,
    )
    return Record(
        source_key=raw["structure_label"],
        chemical_formula_reduced=reduced_formula(dict(structure.composition.get_el_amt_dict())),
        raw=raw,
        layer=to_2d_convention(structure),
        values=[Value("band_gap", raw["band_gap"], "eV", "PBE", source_field="band_gap")],
    )


def test_writer_is_idempotent_and_keeps_previous_revisions(session: Session) -> None:
    raw = json.loads((SHARED_DATA / "mc2d" / "mc2d_v4_structures_sample.json").read_text())[0]
    source_id = ensure_source(session, SourceInfo("mc2d", "MC2D", version="4"))
    first = write_records(session, source_id, [_mc2d_record(raw)])
    again = write_records(session, source_id, [_mc2d_record(raw)])
    assert (first.inserted, again.unchanged, again.inserted) == (1, 1, 0)
    row = session.execute(select(StructureRow)).scalar_one()
    assert (row.chemical_formula_reduced, row.nsites, row.elements) == ("ILaO", 6, ["I", "La", "O"])
    assert row.thickness == pytest.approx(6.2646, abs=1e-3)

    changed = dict(raw, band_gap=3.5)
    update = write_records(session, source_id, [_mc2d_record(changed)])
    assert update.updated == 1
    entry = session.execute(select(Entry)).scalar_one()
    assert entry.revision == 2 and entry.raw["band_gap"] == 3.5
    assert session.execute(select(EntryRevision.raw)).scalar_one()["band_gap"] == 3.4
    assert session.execute(select(PropertyValue.value)).scalars().all() == [3.5]


def test_experimental_values_join_the_computed_material_of_their_formula_and_space_group(session: Session) -> None:
    source_id = ensure_source(session, SourceInfo("test", "test"))
    computed = Record("mos2", "MoS2", {"k": 1}, layer=to_2d_convention(MOS2))
    measured = [
        Record("pl-1", "MoS2", {"k": 2}, values=[Value("optical_gap", 1.9, "eV", "expt")], space_group=187),
        Record("pl-2", "MoS2", {"k": 3}, space_group=164),
        Record("pl-3", "MoS2", {"k": 4}),
        Record("pl-4", "WS2", {"k": 5}, space_group=187),
    ]
    write_records(session, source_id, [computed])
    write_records(session, source_id, measured)
    stored = session.execute(select(Entry.source_key, Entry.material_id, Entry.material_link))
    rows = {key: (material, link) for key, material, link in stored}
    assert rows["mos2"] == (rows["mos2"][0], None)
    assert rows["pl-1"][0] == rows["mos2"][0] and rows["pl-1"][1].startswith("linked: reduced formula MoS2, space group 187;")
    assert rows["pl-2"][1] == "own material: no material with a structure has reduced formula MoS2, space group 164"
    assert rows["pl-3"][1].startswith("own material: the record gives no space group")
    assert rows["pl-4"][1] == "own material: no material with a structure has reduced formula WS2, space group 187"
    assert len({material for material, _ in rows.values()}) == 4
    assert session.execute(select(func.count()).select_from(Material)).scalar_one() == 4


def test_quarantine_keeps_reason_and_payload_once(session: Session) -> None:
    rejected = [Rejected("line 3", "truncated JSON", '{"material_id": "2dm-1", "struc')]
    assert quarantine(session, "2dmatpedia", "x.json", rejected) == 1
    assert quarantine(session, "2dmatpedia", "x.json", rejected) == 0
    row = session.execute(select(Quarantine)).scalar_one()
    assert (row.reason, row.payload) == ("truncated JSON", rejected[0].payload)
