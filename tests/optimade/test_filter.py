"""Every OPTIMADE filter operator, through a real ``atlas2d serve`` process.

The expected ids come from the pymatgen structures and the values the test put in
(``tests.optimade_support``), never from the store, so a wrong SQL translation fails here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
from optimade.warnings import UnknownProviderProperty
from sqlalchemy import select

from atlas2d.api.optimade.fields import STRUCTURES
from atlas2d.api.optimade.filter import (
    MAX_DEPTH,
    FilterError,
    TypeMismatch,
    UnsupportedFilter,
    filter_clause,
)
from atlas2d.schema.database import make_engine
from tests.optimade.support import Expected, all_ids

Predicate = Callable[[Expected], bool]


def gap(e: Expected, name: str = "band_gap") -> float | None:
    return e.values.get(name)


def _cmp(name: str, op: Callable[[float, float], bool], x: float) -> Predicate:
    """A numeric comparison that is false when the value is unknown (SQL NULL semantics)."""
    return lambda e: (v := e.values.get(name)) is not None and op(v, x)


CASES: list[tuple[str, Predicate]] = [
    # numbers: every comparison operator, both orders
    ("nelements = 2", lambda e: e.nelements == 2),
    ("nelements != 2", lambda e: e.nelements != 2),
    ("nelements < 2", lambda e: e.nelements < 2),
    ("nelements <= 2", lambda e: e.nelements <= 2),
    ("nelements > 2", lambda e: e.nelements > 2),
    ("nelements >= 3", lambda e: e.nelements >= 3),
    ("2 < nelements", lambda e: e.nelements > 2),
    ("12 >= nsites", lambda e: e.nsites <= 12),
    ("nsites = 3.0", lambda e: e.nsites == 3),
    ("nperiodic_dimensions = 2", lambda e: True),
    ("nperiodic_dimensions != 2", lambda e: False),
    # strings: comparisons and the fuzzy operators
    ('chemical_formula_reduced = "MoS2"', lambda e: e.reduced == "MoS2"),
    ('chemical_formula_reduced != "AgS"', lambda e: e.reduced != "AgS"),
    ('chemical_formula_reduced < "B"', lambda e: e.reduced < "B"),
    ('chemical_formula_reduced >= "As"', lambda e: e.reduced >= "As"),
    ('chemical_formula_reduced CONTAINS "S"', lambda e: "S" in e.reduced),
    ('chemical_formula_reduced STARTS "Al"', lambda e: e.reduced.startswith("Al")),
    ('chemical_formula_reduced STARTS WITH "Ag"', lambda e: e.reduced.startswith("Ag")),
    ('chemical_formula_reduced ENDS "2"', lambda e: e.reduced.endswith("2")),
    ('chemical_formula_reduced ENDS WITH "Te"', lambda e: e.reduced.endswith("Te")),
    ('chemical_formula_descriptive CONTAINS "12"', lambda e: "12" in e.descriptive),
    ('"AlS" = chemical_formula_reduced', lambda e: e.reduced == "AlS"),
    ('chemical_formula_anonymous = "AB"', lambda e: e.anonymous == "AB"),
    ('chemical_formula_anonymous = "AB2"', lambda e: e.anonymous == "AB2"),
    ('id STARTS WITH "poscar2d-copy/"', lambda e: e.source == "poscar2d-copy"),
    ('id CONTAINS "%"', lambda e: False),
    ('chemical_formula_reduced CONTAINS "_"', lambda e: False),
    # lists: HAS, HAS ALL, HAS ANY, HAS ONLY, HAS with an operator, LENGTH
    ('elements HAS "S"', lambda e: "S" in e.elements),
    ('elements HAS ALL "Al","S"', lambda e: {"Al", "S"} <= set(e.elements)),
    ('elements HAS ANY "Te","Se"', lambda e: bool({"Te", "Se"} & set(e.elements))),
    ('elements HAS ONLY "Ag","S","O"', lambda e: set(e.elements) <= {"Ag", "S", "O"}),
    ('elements HAS < "B"', lambda e: any(x < "B" for x in e.elements)),
    ('species_at_sites HAS "Se"', lambda e: "Se" in e.elements),
    ("dimension_types HAS 0", lambda e: True),
    ("dimension_types HAS ALL 1, 0", lambda e: True),
    ("dimension_types HAS ONLY 1", lambda e: False),
    ("dimension_types HAS 0.5", lambda e: False),
    ("elements LENGTH 2", lambda e: e.nelements == 2),
    ("elements LENGTH >= 3", lambda e: e.nelements >= 3),
    ("species LENGTH 1", lambda e: e.nelements == 1),
    ("cartesian_site_positions LENGTH > 8", lambda e: e.nsites > 8),
    ("species_at_sites LENGTH < 6", lambda e: e.nsites < 6),
    ("lattice_vectors LENGTH 3", lambda e: True),
    ("dimension_types LENGTH 3", lambda e: True),
    # IS KNOWN / IS UNKNOWN, on stored, absent and other providers' properties
    ("_atlas2d_band_gap IS KNOWN", lambda e: "band_gap" in e.values),
    ("_atlas2d_band_gap IS UNKNOWN", lambda e: "band_gap" not in e.values),
    ("_atlas2d_formation_energy IS KNOWN", lambda e: "formation_energy" in e.values),
    ("lattice_vectors IS KNOWN", lambda e: True),
    ("chemical_formula_hill IS KNOWN", lambda e: False),
    ("chemical_formula_hill IS UNKNOWN", lambda e: True),
    ("_otherdb_band_gap IS UNKNOWN", lambda e: True),
    ("_otherdb_band_gap > 1", lambda e: False),
    ("NOT _otherdb_band_gap > 1", lambda e: False),
    # provider fields
    ("_atlas2d_band_gap > 1.5", _cmp("band_gap", float.__gt__, 1.5)),
    ("_atlas2d_band_gap_pbe <= 1", _cmp("band_gap_pbe", float.__le__, 1.0)),
    ("_atlas2d_band_gap_hse06 >= 2", _cmp("band_gap_hse06", float.__ge__, 2.0)),
    ("_atlas2d_band_gap_expt > 0", _cmp("band_gap_expt", float.__gt__, 0.0)),
    ('_atlas2d_band_gap_method = "HSE06"', lambda e: e.values.get("band_gap_method") == "HSE06"),
    ('_atlas2d_band_gap_method STARTS "expt"', lambda e: str(e.values.get("band_gap_method")).startswith("expt")),
    ("_atlas2d_formation_energy < -0.5", _cmp("formation_energy", float.__lt__, -0.5)),
    ('_atlas2d_source = "poscar2d-copy"', lambda e: e.source == "poscar2d-copy"),
    ("_atlas2d_material_id IS KNOWN", lambda e: True),
    # NOT, AND, OR, precedence and parentheses
    ("NOT nelements = 2", lambda e: e.nelements != 2),
    ("NOT _atlas2d_band_gap > 1.5", _cmp("band_gap", float.__le__, 1.5)),
    ('elements HAS "S" AND nelements = 2', lambda e: "S" in e.elements and e.nelements == 2),
    ('elements HAS "Te" OR elements HAS "Se"', lambda e: bool({"Te", "Se"} & set(e.elements))),
    (
        'nelements = 3 OR elements HAS "S" AND nsites < 6',
        lambda e: e.nelements == 3 or ("S" in e.elements and e.nsites < 6),
    ),
    (
        '(nelements = 3 OR elements HAS "S") AND nsites < 6',
        lambda e: (e.nelements == 3 or "S" in e.elements) and e.nsites < 6,
    ),
    ("NOT (nelements = 2 OR nelements = 3)", lambda e: e.nelements not in (2, 3)),
    ("NOT (NOT nelements = 2)", lambda e: e.nelements == 2),
    ('last_modified > "2000-01-01T00:00:00Z"', lambda e: True),
    ('last_modified < "2000-01-01T00:00:00+01:00"', lambda e: False),
]


@pytest.mark.parametrize(("filter_text", "predicate"), CASES, ids=[c[0] for c in CASES])
def test_filter_operator_through_server(
    server: str, store: tuple[str, dict[str, Expected]], filter_text: str, predicate: Predicate
) -> None:
    expected = {key for key, entry in store[1].items() if predicate(entry)}
    assert all_ids(server, filter_text) == expected


def test_cases_are_discriminating(store: tuple[str, dict[str, Expected]]) -> None:
    """The sample must make most filters select some but not all entries, or the table proves little."""
    entries = store[1].values()
    partial = [f for f, p in CASES if 0 < sum(map(p, entries)) < len(entries)]
    assert len(partial) >= 45


def test_id_equality_finds_exactly_one(server: str, store: tuple[str, dict[str, Expected]]) -> None:
    some_id = sorted(store[1])[7]
    assert all_ids(server, f'id = "{some_id}"') == {some_id}
    assert all_ids(server, f'NOT id = "{some_id}"') == set(store[1]) - {some_id}


def test_filter_clause_runs_as_plain_sql(store: tuple[str, dict[str, Expected]]) -> None:
    """``filter_clause`` composes with any select over ``STRUCTURES``, as the benchmark uses it."""
    engine = make_engine(store[0], readonly=True)
    with engine.connect() as connection:
        rows = connection.execute(
            select(STRUCTURES.c.id).where(filter_clause('elements HAS ALL "Al","S" AND nelements = 2'))
        ).scalars()
        assert set(rows) == {k for k, e in store[1].items() if set(e.elements) == {"Al", "S"}}
    engine.dispose()


@pytest.mark.parametrize(
    "bad",
    [
        "nelements =",
        "nelements = 2 nelements = 3",
        "unknownfield = 1",
        '_atlas2d_nonexistent = "x"',
        'last_modified > "yesterday"',
        'last_modified > "2020-01-01T00:00:00"',
        "ELEMENTS HAS \"Mo\"",
        "(" * (MAX_DEPTH + 5) + "nelements = 1" + ")" * (MAX_DEPTH + 5),
        "x" * 30_000,
        'elements HAS "Mo\x00"',
    ],
)
def test_bad_filters_raise_filter_error(bad: str) -> None:
    with pytest.raises(FilterError) as caught:
        filter_clause(bad)
    assert not isinstance(caught.value, UnsupportedFilter)


@pytest.mark.parametrize(
    "unsupported",
    [
        'elements:elements_ratios HAS "Mo":0.5',
        "lattice_vectors HAS 1.0",
        'species HAS "Mo"',
        "nelements = TRUE",
        '"MoS2" = "MoS2"',
        "nelements = nsites",
        "1 = 1",
        'elements HAS ALL >"A", <"Z"',
        "_atlas2d_source.name = 1",
    ],
)
def test_unsupported_filters_raise_unsupported(unsupported: str) -> None:
    with pytest.raises(UnsupportedFilter):
        filter_clause(unsupported)


@pytest.mark.parametrize(
    "mismatch",
    [
        'nelements = "two"',
        "chemical_formula_reduced = 2",
        "chemical_formula_reduced LENGTH 2",
        "nsites LENGTH > 3",
        "nelements CONTAINS 2",
        'nelements STARTS WITH "1"',
        'elements HAS ALL "Mo", 2',
        "nelements HAS 1",
        'elements = "Mo"',
        "lattice_vectors = 1",
        "last_modified > 1",
        "nelements = TRUE",
        "_atlas2d_band_gap != FALSE",
    ],
)
def test_type_mismatches_are_not_implemented_as_the_specification_asks(mismatch: str) -> None:
    """OPTIMADE: "Different types of values MUST be reported as 501 Not Implemented errors"."""
    with pytest.raises(TypeMismatch):
        filter_clause(mismatch)


def test_numbers_beyond_float64_are_not_implemented_with_the_range() -> None:
    with pytest.raises(UnsupportedFilter, match="outside the range of 64-bit floats"):
        filter_clause("nelements > 1e400")


def test_booleans_on_another_providers_field_are_unknown_not_an_error() -> None:
    for text in ("_exmpl_flag = TRUE", "_exmpl_flag != FALSE", "NOT _exmpl_flag = TRUE"):
        assert "NULL" in str(filter_clause(text).compile())


def test_unknown_provider_prefixes_warn_and_known_ones_do_not() -> None:
    with pytest.warns(UnknownProviderProperty, match="_zzz_gap"):
        filter_clause("_zzz_gap < 2 OR nelements = 2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        filter_clause("_mp_band_gap < 2 OR _exmpl_x = 1")


def test_values_are_bound_parameters_not_sql_text() -> None:
    hostile = "x'; DROP TABLE entry; --"
    clause = filter_clause(f'chemical_formula_reduced = "{hostile}" OR elements HAS ANY "{hostile}"')
    compiled = str(clause.compile())
    assert hostile not in compiled
    assert "DROP" not in compiled


def test_escaped_quotes_and_backslashes_reach_the_value() -> None:
    clause = filter_clause(r'chemical_formula_reduced = "a\"b\\c"')
    assert r'a"b\c' in clause.compile().params.values()


def test_nesting_up_to_the_limit_is_accepted_and_one_more_is_not() -> None:
    filter_clause("NOT (" * MAX_DEPTH + "nelements = 1" + ")" * MAX_DEPTH)
    with pytest.raises(FilterError, match="nested deeper"):
        filter_clause("(" * (MAX_DEPTH + 1) + "nelements = 1" + ")" * (MAX_DEPTH + 1))
    filter_clause('chemical_formula_reduced = "' + "(" * (MAX_DEPTH + 1) + '"')


def test_lalr_parser_gives_the_reference_parsers_trees() -> None:
    """atlas2d parses with LALR(1); optimade's own LarkParser (Earley) must agree on every case."""
    from optimade.filterparser import LarkParser

    from atlas2d.api.optimade.filter import parse

    reference = LarkParser()
    filters = [text for text, _ in CASES] + [
        'elements:elements_ratios HAS "Mo":0.5',
        'elements HAS ALL >"A", <"Z"',
        "NOT (nelements = 1 OR (nsites > 2 AND NOT elements HAS ONLY \"Mo\"))",
        'chemical_formula_reduced = "a\\"b"',
        "_atlas2d_band_gap >= -1.5e-3",
    ]
    for text in filters:
        assert parse(text) == reference.parse(text), text


def test_glued_tokens_are_lexed_longest_first() -> None:
    """Earley's dynamic lexer reads ``1.5!=x`` as ``1`` then a second comparison ``.5 != x``;
    the LALR lexer takes ``1.5`` whole, so the glued filter is a syntax error, not two filters."""
    with pytest.raises(FilterError, match="cannot parse"):
        filter_clause("nelements > 1.5!=nsites")
