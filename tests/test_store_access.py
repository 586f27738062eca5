"""How commands reach the store: Settings from options or environment, and one-line database errors.

Every command that touches the store opens it through ``atlas2d.api.store_access.open_store``;
these tests break the store in the ways users do (no server, bad URL, no database, wrong
user, never initialised, no rights, an embedded server that cannot start) and check that
each command answers with exit status 1 and one line that says what to do.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import make_url, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atlas2d.api.cli import app
from atlas2d.ingest.records import Rejected, Value
from atlas2d.ingest.samples import SAMPLES
from atlas2d.ingest.store import quarantine
from atlas2d.schema.database import make_engine, start_embedded
from atlas2d.schema.readonly import QueryRefused, run_readonly, sql_url
from atlas2d.schema.settings import Settings
from atlas2d.schema.status import store_status
from atlas2d.testdata.poscar import POSCAR_SOURCE, poscar_structures, seed_store, structure_record

runner = CliRunner()

STORE_COMMANDS = [
    ("init",),
    ("status",),
    ("sql", "SELECT 1"),
    ("ingest", "mc2d", str(SAMPLES / "mc2d")),
    ("dedup",),
    ("dedup", "--report"),
    ("dedup", "override", "split", "1", "2"),
    ("similar", "1"),
    ("fingerprint", "generate", "--per-family", "1"),
    ("fingerprint", "map", "--out", "unused.png"),
    ("similar-bands", "1"),
    ("graph", "build"),
    ("export", "--out", "unused-export"),
    ("serve",),
]
"""One invocation of every command that opens the store."""


@pytest.fixture(autouse=True)
def no_atlas2d_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test says which store it means; none inherits one from the caller's shell."""
    for name in [n for n in os.environ if n.startswith("ATLAS2D_")]:
        monkeypatch.delenv(name)


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def one_line_error(result: Result, *needles: str) -> str:
    """The error line, after checking: exit 1, exactly one line on stderr, no traceback, every needle in it."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("args", STORE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_says_in_one_line_that_the_server_is_out_of_reach(tmp_path: Path, args: tuple[str, ...]) -> None:
    url = f"postgresql://someone:s3cret@/atlas?host={tmp_path}"
    line = one_line_error(invoke("--database-url", url, *args), "cannot connect to the store at", "is the server running?")
    assert "ATLAS2D_DATABASE_URL (--database-url)" in line
    assert "s3cret" not in line and "someone:***@" in line


@pytest.mark.parametrize("args", [("status",), ("dedup",), ("fingerprint",), ("graph", "build"), ("export", "--out", "x")])
def test_a_database_never_initialised_says_run_init(pg_root: Path, args: tuple[str, ...]) -> None:
    empty = start_embedded(pg_root / "pgdata", database=f"empty_{uuid.uuid4().hex[:10]}")
    one_line_error(invoke("--database-url", empty, *args), "is not initialised", "run 'atlas2d init'")


def test_a_missing_database_and_an_unknown_user_get_their_own_hints(store_url: str) -> None:
    url = make_url(store_url)
    missing = url.set(database="no_such_store").render_as_string(hide_password=False)
    one_line_error(invoke("--database-url", missing, "status"), 'database "no_such_store" does not exist', "create the database")
    stranger = url.set(username="no_such_user").render_as_string(hide_password=False)
    one_line_error(invoke("--database-url", stranger, "status"), "cannot log in", "check the user and password in ATLAS2D_DATABASE_URL")
    reader = url.set(username="no_such_reader").render_as_string(hide_password=False)
    one_line_error(
        invoke("--database-url", store_url, "--readonly-url", reader, "sql", "SELECT 1"),
        "cannot log in",
        "ATLAS2D_READONLY_URL (--readonly-url)",
    )


def test_a_user_without_rights_is_told_to_connect_as_the_owner(store_url: str) -> None:
    role = f"outsider_{uuid.uuid4().hex[:8]}"
    owner = make_engine(store_url)
    with owner.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    try:
        outsider = make_url(store_url).set(username=role).render_as_string(hide_password=False)
        one_line_error(invoke("--database-url", outsider, "status"), "permission denied", "connect as its owner")
    finally:
        with owner.begin() as conn:
            conn.execute(text(f'DROP ROLE "{role}"'))
        owner.dispose()


@pytest.mark.parametrize(
    "url, needle",
    [
        ("sqlite:///atlas.db", "atlas2d needs PostgreSQL, not 'sqlite'"),
        ("not a url", "not a database URL"),
        ("postgresql://someone:s3cret@host:port/x", "not a database URL"),
    ],
)
def test_a_url_that_is_not_postgresql_is_refused_before_connecting(url: str, needle: str) -> None:
    line = one_line_error(invoke("--database-url", url, "status"), needle, "check ATLAS2D_DATABASE_URL")
    assert "s3cret" not in line


def test_an_embedded_server_that_cannot_start_points_at_the_data_dir(tmp_path: Path) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("not a folder")
    one_line_error(invoke("--data-dir", str(occupied), "status"), "cannot start the embedded PostgreSQL", "--data-dir")


def test_options_and_environment_reach_the_commands_as_settings(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = invoke("--database-url", store_url, "sql", "SELECT current_user AS who", "--format", "csv")
    assert reader.exit_code == 0, reader.output
    assert reader.stdout.splitlines() == ["who", "atlas2d_reader"]
    owner = invoke("--database-url", store_url, "--readonly-url", store_url, "sql", "SELECT current_user AS who", "-f", "csv")
    assert owner.stdout.splitlines() == ["who", make_url(store_url).username]
    assert not [n for n in os.environ if n.startswith("ATLAS2D_")], "the CLI must not write its options into the environment"
    monkeypatch.setenv("ATLAS2D_DATABASE_URL", store_url)
    monkeypatch.setenv("ATLAS2D_READONLY_URL", store_url)
    from_environment = invoke("sql", "SELECT current_user AS who", "-f", "csv")
    assert from_environment.stdout.splitlines() == ["who", make_url(store_url).username]


def test_the_data_dir_option_wins_over_the_environment(tmp_path: Path, atlas2d) -> None:  # noqa: ANN001
    chosen, ignored = tmp_path / "chosen", tmp_path / "ignored"
    result = atlas2d("--data-dir", str(chosen), "init", ATLAS2D_DATA_DIR=str(ignored))
    assert result.returncode == 0, result.stderr
    assert (chosen / "pgdata" / "PG_VERSION").is_file()
    assert not ignored.exists()


def test_store_status_counts_tables_and_sources_with_quarantine_only_ones(session: Session) -> None:
    records = [structure_record(k, s, [Value("band_gap", 1.0, "eV", "PBE")]) for k, s in poscar_structures(3)]
    seed_store(session, records)
    quarantine(session, "never-ingested", "bad.json", [Rejected("bad.json:1", "no atoms", "{}")])
    session.commit()
    found = store_status(session.connection())
    tables = dict(found.tables)
    assert tables["entry"] == tables["structure"] == 3 and tables["property"] == 3 and tables["quarantine"] == 1
    by_name = {s.name: s for s in found.sources}
    assert [s.name for s in found.sources] == sorted(by_name)
    poscar = by_name[POSCAR_SOURCE.name]
    assert (poscar.version, poscar.entries, poscar.quarantined) == (POSCAR_SOURCE.version, 3, 0)
    assert by_name["never-ingested"].version is None
    assert (by_name["never-ingested"].entries, by_name["never-ingested"].quarantined) == (0, 1)


def test_run_readonly_keeps_the_first_rows_and_refuses_writes_and_bad_sql(store_url: str) -> None:
    url = sql_url(Settings(database_url=store_url))
    result = run_readonly("SELECT g AS n FROM generate_series(1, 10) g", url=url, limit=3)
    assert result.columns == ["n"] and result.rows == [(1,), (2,), (3,)] and result.more
    for statement, reason in [
        ("DELETE FROM material", "read-only transaction"),
        ("SELEC 1", "syntax error"),
        ("SET work_mem = '8MB'", "returned no rows"),
    ]:
        with pytest.raises(QueryRefused, match=reason):
            run_readonly(statement, url=url, limit=1)

