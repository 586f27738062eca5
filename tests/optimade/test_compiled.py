"""Statements run on the driver connection (``atlas2d.api.optimade.compiled``) give SQLAlchemy's rows."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Text, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError

from atlas2d.api.optimade.app import reader_engine
from atlas2d.api.optimade.compiled import CompiledStatements
from atlas2d.api.optimade.fields import STRUCTURE_RESOURCE
from atlas2d.api.optimade.filter import filter_clause

STRUCTURES = STRUCTURE_RESOURCE.selectable


def _page(filter_text: str, limit: int, offset: int) -> Any:
    clause = filter_clause(filter_text, STRUCTURE_RESOURCE)
    return select(*STRUCTURES.c).where(clause).order_by(STRUCTURES.c.entry_pk).limit(limit).offset(offset)


@pytest.fixture(scope="module")
def engine(store: tuple[str, Any]) -> Any:
    engine = reader_engine(store[0], binary_results=True, autocommit=True)
    yield engine
    engine.dispose()


def test_each_statement_of_a_shape_gets_its_own_values_and_sqlalchemys_rows(engine: Any) -> None:
    statements = CompiledStatements(engine.dialect)
    shapes = [
        _page('elements HAS "S"', 3, 0),
        _page('elements HAS "Se"', 2, 1),  # same shape, other values: the compiled form is reused
        _page("nsites >= 3 AND _atlas2d_band_gap IS UNKNOWN", 5, 0),
        select(func.count()).select_from(STRUCTURES).where(filter_clause("nelements = 2", STRUCTURE_RESOURCE)),
    ]
    with engine.connect() as connection:
        expected = [[tuple(row) for row in connection.execute(statement).all()] for statement in shapes]
        found = [statements.rows(connection, statement) for statement in shapes]
    assert found == expected
    assert [[type(value) for value in row] for rows in found for row in rows] == [
        [type(value) for value in row] for rows in expected for row in rows
    ]
    assert expected[0] and expected[1] and expected[0] != expected[1]
    assert len(statements._cache) == 3  # noqa: SLF001 - the two pages of one shape share their compiled form


def test_in_lists_go_through_sqlalchemy(engine: Any) -> None:
    statements = CompiledStatements(engine.dialect)
    with engine.connect() as connection:
        ids = [row[0] for row in connection.execute(select(STRUCTURES.c.id).limit(3))]
        statement = select(STRUCTURES.c.id).where(STRUCTURES.c.id.in_(ids[:2])).order_by(STRUCTURES.c.id)
        assert statements.rows(connection, statement) == [(i,) for i in sorted(ids[:2])]
        statement = select(STRUCTURES.c.id).where(STRUCTURES.c.id.in_(ids)).order_by(STRUCTURES.c.id)
        assert statements.rows(connection, statement) == [(i,) for i in sorted(ids)]


def test_a_cancelled_statement_raises_what_sqlalchemy_raises(engine: Any) -> None:
    statements = CompiledStatements(engine.dialect)
    with engine.connect() as connection:
        connection.execute(text("SET statement_timeout = 50"))
        with pytest.raises(OperationalError, match="statement timeout"):
            statements.rows(connection, select(func.pg_sleep(2)))
        connection.execute(text("RESET statement_timeout"))


def test_a_statement_built_once_runs_with_the_values_given(engine: Any) -> None:
    statements = CompiledStatements(engine.dialect)
    statement = select(STRUCTURES.c.id).where(STRUCTURES.c.id == any_(bindparam("ids", type_=ARRAY(Text)))).order_by(STRUCTURES.c.id)
    with engine.connect() as connection:
        ids = sorted(row[0] for row in connection.execute(select(STRUCTURES.c.id).limit(3)))
        assert statements.rows(connection, statement, {"ids": ids[:1]}) == [(ids[0],)]
        assert statements.rows(connection, statement, {"ids": ids[1:]}) == [(i,) for i in ids[1:]]
