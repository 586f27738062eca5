"""``atlas2d sql`` as its own read-only role: a statement timeout, rows streamed up to --limit,
and no way to end the HTTP API's sessions (nor the reverse)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from sqlalchemy import make_url, text

from atlas2d.api.optimade.app import reader_engine
from atlas2d.schema.database import make_engine
from atlas2d.schema.readonly import SQL_ROLE, sql_url
from atlas2d.schema.settings import Settings
from atlas2d.testdata import REPO


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def peak_rss_mb(*args: str, store_url: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``atlas2d ARGS`` under a fresh parent that reports its child's peak resident memory (MB)."""
    runner = (
        "import resource, subprocess, sys; "
        "r = subprocess.run([sys.executable, '-m', 'atlas2d', *sys.argv[1:]], capture_output=True, text=True); "
        "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATLAS2D_")} | {"ATLAS2D_DATABASE_URL": store_url}
    result = subprocess.run([sys.executable, "-c", runner, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    *stderr, peak_kb = result.stderr.strip().splitlines()
    result.stderr = "\n".join(stderr)
    return result, int(peak_kb) / 1024


def test_sql_runs_as_its_own_role(cli_env: str, atlas2d) -> None:  # noqa: ANN001
    query = "SELECT current_user, current_setting('transaction_read_only') AS ro"
    result = atlas2d("sql", query, "--format", "csv", ATLAS2D_DATABASE_URL=cli_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["current_user,ro", f"{SQL_ROLE},on"]


def test_statement_timeout_gives_a_one_line_error(cli_env: str, atlas2d) -> None:  # noqa: ANN001
    result = atlas2d("sql", "SELECT pg_sleep(5)", "--timeout", "1", ATLAS2D_DATABASE_URL=cli_env)
    assert result.returncode == 1  # PostgreSQL cancelled it: the sleep would have ended without an error
    assert result.stderr.count("\n") == 1 and "1 s timeout" in result.stderr, result.stderr
    shown = atlas2d("sql", "SHOW statement_timeout", "--timeout", "7", "--format", "csv", ATLAS2D_DATABASE_URL=cli_env)
    assert shown.stdout.splitlines() == ["statement_timeout", "7s"], shown.stderr
    default = atlas2d("sql", "SHOW statement_timeout", "--format", "csv", ATLAS2D_DATABASE_URL=cli_env)
    assert default.stdout.splitlines() == ["statement_timeout", "30s"], default.stderr


def test_limit_streams_only_the_rows_it_prints(cli_env: str) -> None:
    baseline, baseline_mb = peak_rss_mb("sql", "SELECT 1", "--format", "csv", store_url=cli_env)
    assert baseline.returncode == 0, baseline.stderr
    query = "SELECT g, md5(g::text) FROM generate_series(1, 5000000) g"
    huge, huge_mb = peak_rss_mb("sql", query, "--limit", "5", "--format", "csv", store_url=cli_env)
    assert huge.returncode == 0, huge.stderr
    assert huge.stdout.splitlines()[1:] == [f"{i},{hashlib.md5(str(i).encode()).hexdigest()}" for i in range(1, 6)]
    assert "the first 5 rows" in huge.stderr
    assert huge_mb < baseline_mb + 40, f"peak {huge_mb:.0f} MB vs {baseline_mb:.0f} MB for SELECT 1"


def test_a_killed_client_does_not_leave_its_statement_running(cli_env: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATLAS2D_")} | {"ATLAS2D_DATABASE_URL": cli_env}
    client = subprocess.Popen(
        [sys.executable, "-m", "atlas2d", "sql", "SELECT pg_sleep(600) AS slept", "--timeout", "0"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    owner = make_engine(cli_env).execution_options(isolation_level="AUTOCOMMIT")  # a fresh pg_stat_activity per poll
    # the statement runs as the cursor's FETCH, so it is found by its role and state
    running = text("SELECT count(*) FROM pg_stat_activity WHERE usename = :role AND state = 'active'")
    try:
        deadline = time.monotonic() + 60
        with owner.connect() as connection:
            while connection.execute(running, {"role": SQL_ROLE}).scalar_one() == 0:
                assert time.monotonic() < deadline and client.poll() is None, "the statement never started"
                time.sleep(0.2)
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=30)
        deadline = time.monotonic() + 15
        with owner.connect() as connection:
            while connection.execute(running, {"role": SQL_ROLE}).scalar_one():
                assert time.monotonic() < deadline, "the server kept running the statement of a dead client"
                time.sleep(0.2)
    finally:
        client.kill()
        owner.dispose()


def test_neither_read_only_role_can_end_the_others_sessions(cli_env: str, atlas2d) -> None:  # noqa: ANN001
    api = reader_engine(cli_env)
    with api.connect() as api_session, psycopg.connect(_libpq(sql_url(Settings(database_url=cli_env)))) as sql_session:
        api_pid = api_session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        sql_pid = sql_session.execute("SELECT pg_backend_pid()").fetchone()[0]

        refused = atlas2d("sql", f"SELECT pg_terminate_backend({api_pid})", ATLAS2D_DATABASE_URL=cli_env)
        assert refused.returncode == 1 and "permission denied to terminate process" in refused.stderr, refused.stderr
        cancelled = atlas2d("sql", f"SELECT pg_cancel_backend({api_pid})", ATLAS2D_DATABASE_URL=cli_env)
        assert cancelled.returncode == 1 and "permission denied" in cancelled.stderr, cancelled.stderr

        with pytest.raises(Exception, match="permission denied to terminate process"):
            api_session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": sql_pid})
        api_session.rollback()

        assert api_session.execute(text("SELECT 1")).scalar_one() == 1
        assert sql_session.execute("SELECT 1").fetchone() == (1,)
    api.dispose()


def test_writes_and_escalations_are_still_refused(cli_env: str, atlas2d) -> None:  # noqa: ANN001
    for statement in (
        "DELETE FROM material",
        "WITH gone AS (DELETE FROM material RETURNING id) SELECT * FROM gone",
        "SET TRANSACTION READ WRITE; INSERT INTO material (chemical_formula_reduced) VALUES ('X')",
        "SELECT set_config('default_transaction_read_only', 'off', false), nextval('material_id_seq')",
        "SET ROLE postgres",
        "CREATE TEMP TABLE t AS SELECT 1",
    ):
        result = atlas2d("sql", statement, ATLAS2D_DATABASE_URL=cli_env)
        assert result.returncode == 1, (statement, result.stdout)
        assert result.stderr.count("\n") == 1 and "error:" in result.stderr, result.stderr
