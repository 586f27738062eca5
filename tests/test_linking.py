"""Records without structures join a material only by the written rule of ``atlas2d.ingest.linking``.

The store-level tests use the bundled real samples: the C2DB MoS2 row is a P-4m2 (115)
polymorph and MC2D holds MoS2 as 1T (164) and 2H (187), so a measured 2H value (187) has
exactly one material to join, while MoSe2 2H is in both C2DB and MC2D (two materials until
dedup merges them).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atlas2d.embeddings.structure.dedup import run_dedup
from atlas2d.embeddings.structure.explain import explain
from atlas2d.ingest.linking import LINKED, OWN, Candidate, decide
from atlas2d.ingest.pipeline import ingest_files
from atlas2d.ingest.samples import SAMPLES
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import Entry, Material, Source, Structure

C2DB = sorted((SAMPLES / "c2db").glob("*.structure.json"))
MC2D = SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json"
EXPERIMENTAL = SAMPLES / "experimental" / "experimental_2d_monolayers.csv"


def test_the_rule_links_only_one_match_of_formula_space_group_and_same_scheme_prototype() -> None:
    a, b = Candidate(1, 187, "MoS2", source_id=7), Candidate(2, 164, "CdI2", source_id=7)
    linked = decide("MoS2", 187, None, 9, [a, b])
    assert linked.material_id == 1 and linked.note.startswith(f"{LINKED}: reduced formula MoS2, space group 187;")
    assert decide("MoS2", None, None, 9, [a, b]).note.startswith(f"{OWN}: the record gives no space group")
    none = decide("MoS2", 191, None, 9, [a, b])
    assert none.material_id is None and none.note == f"{OWN}: no material with a structure has reduced formula MoS2, space group 191"
    twice = decide("MoS2", 187, None, 9, [a, Candidate(3, 187, None, 8)])
    assert twice.material_id is None and "2 materials match" in twice.note
    assert decide("MoS2", 187, "CdI2", 7, [a]).material_id is None, "prototypes of one source's scheme must agree"
    assert decide("MoS2", 187, "2H", 9, [a]).material_id == 1, "prototypes of different sources' schemes are not compared"
    same = decide("MoS2", 187, "MoS2", 7, [a])
    assert same.material_id == 1 and "prototype MoS2" in same.note


def _experimental(session: Session, formula: str) -> Entry:
    return session.execute(
        select(Entry).join(Source).where(Source.name == "experimental", Entry.chemical_formula_reduced == formula)
    ).scalar_one()


def _material_of(session: Session, source: str, key: str) -> int:
    return session.execute(select(Entry.material_id).join(Source).where(Source.name == source, Entry.source_key == key)).scalar_one()


def test_measured_values_link_by_rule_and_dedup_resolves_an_ambiguous_match(store_url: str, session: Session) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, "c2db", C2DB)
    ingest_files(engine, "mc2d", [MC2D])
    ingest_files(engine, "experimental", [EXPERIMENTAL])
    engine.dispose()
    mos2 = _experimental(session, "MoS2")
    assert mos2.space_group == 187 and mos2.prototype == "2H"
    assert mos2.material_id == _material_of(session, "mc2d", "MoS2-c63547f0")
    assert mos2.material_id != _material_of(session, "c2db", "MoS2-165798ab5e18"), "the P-4m2 polymorph is another material"
    assert mos2.material_link.startswith(f"{LINKED}: reduced formula MoS2, space group 187;")
    mose2 = _experimental(session, "MoSe2")
    assert mose2.material_link == f"{OWN}: 2 materials match reduced formula MoSe2, space group 187 (ambiguous, so not linked)"
    alone = session.execute(select(func.count()).select_from(Entry).where(Entry.material_id == mose2.material_id)).scalar_one()
    assert alone == 1
    cri3 = _experimental(session, "CrI3")
    assert cri3.material_link == f"{OWN}: no material with a structure has reduced formula CrI3, space group 162"

    summary = run_dedup(session)
    session.expire_all()
    merged = _material_of(session, "c2db", "MoSe2-f61b14d398c7")
    assert merged == _material_of(session, "mc2d", "MoSe2-a6703220"), "dedup merges the two MoSe2 2H structures"
    mose2 = _experimental(session, "MoSe2")
    assert mose2.material_id == merged and mose2.material_link.startswith(f"{LINKED}: reduced formula MoSe2, space group 187;")
    assert _experimental(session, "MoS2").material_id == _material_of(session, "mc2d", "MoS2-c63547f0")
    assert summary.linked_without_structure >= 2 and summary.own_without_structure >= 1
    empty = ~select(Entry.id).where(Entry.material_id == Material.id).exists()
    assert session.execute(select(func.count()).select_from(Material).where(empty)).scalar_one() == 0, "the own material of MoSe2 is gone"

    why = explain(session, mose2.id)
    assert [(e, s) for e, s, _, _ in why.links] == [(mose2.id, "experimental")]
    assert why.links[0][3] == mose2.material_link
    structures = session.execute(select(func.count()).select_from(Structure).join(Entry).where(Entry.material_id == merged))
    assert structures.scalar_one() == 2


@pytest.mark.parametrize("bad", ["0", "231", "18.5", "P-6m2"])
def test_a_measured_row_with_an_impossible_space_group_is_quarantined(store_url: str, tmp_path, bad: str) -> None:  # noqa: ANN001
    lines = EXPERIMENTAL.read_text().splitlines()
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([lines[0], lines[1].rsplit(",", 1)[0] + f",{bad}"]) + "\n")
    engine = make_engine(store_url)
    summary = ingest_files(engine, "experimental", [path])
    engine.dispose()
    assert (summary.inserted, summary.quarantined) == (0, 1)
    assert next(iter(summary.reasons)).startswith("space_group")


def test_cli_explain_shows_the_rule_that_linked_a_measured_value(store_url: str, cli_env: str, atlas2d) -> None:  # noqa: ANN001
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [MC2D])
    ingest_files(engine, "experimental", [EXPERIMENTAL])
    with engine.connect() as connection:
        entry = connection.execute(
            select(Entry.id).join(Source).where(Source.name == "experimental", Entry.chemical_formula_reduced == "MoS2")
        ).scalar_one()
    engine.dispose()
    run = atlas2d("dedup", "--explain", str(entry), ATLAS2D_DATABASE_URL=cli_env, COLUMNS="400")
    assert run.returncode == 0, run.stderr
    assert "how they got this material" in run.stdout and "linked: reduced formula MoS2, space group 187" in run.stdout
