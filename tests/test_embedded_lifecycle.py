"""The embedded server's life with real processes: it stops with its last atlas2d user however
that user ends (Ctrl-C, SIGTERM, SIGKILL followed by another run), and takes connections only
on its Unix socket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import text

from atlas2d.schema.database import make_engine, start_embedded
from atlas2d.schema.embedded import (
    HBA,
    IDENT_MAP,
    SETTINGS_FILE,
    SHARED_BUFFERS_CAP_MB,
    handles,
    server_settings,
    write_server_settings,
)
from atlas2d.testdata import REPO
from atlas2d.testdata.servers import free_port, wait_until_up


def postmasters(pgdata: Path) -> list[psutil.Process]:
    """The PostgreSQL server processes running on ``pgdata`` (their command line names it)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(pgdata.resolve()) in (process.info["cmdline"] or []):
            found.append(process)
    return found


def wait_for_no_postmaster(pgdata: Path, timeout: float = 15) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := postmasters(pgdata)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def serve(data_dir: Path) -> tuple[subprocess.Popen, str]:
    """``atlas2d serve`` on the embedded server of ``data_dir`` (no ATLAS2D_DATABASE_URL), once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATLAS2D_")} | {"ATLAS2D_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "atlas2d", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/v1/info", process)
    return process, base


@pytest.fixture
def data_dir(tmp_path: Path, atlas2d) -> Path:  # noqa: ANN001 - the runner fixture
    """A data directory with a migrated store whose server has stopped again."""
    init = atlas2d("init", ATLAS2D_DATA_DIR=str(tmp_path))
    assert init.returncode == 0, init.stderr
    assert wait_for_no_postmaster(tmp_path / "pgdata") == [], "init must stop the server it started"
    return tmp_path


def dead_pid() -> int:
    """The pid of a process that has exited (as a client killed earlier leaves in the handle list)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_stopped_by_a_signal_leaves_no_postgres(data_dir: Path, stop: signal.Signals) -> None:
    """Also with the handle of an earlier client killed with SIGKILL in the list, which kept
    every later user from being the last one."""
    pgdata = data_dir / "pgdata"
    stale = dead_pid()
    (pgdata / ".handle_pids.json").write_text(json.dumps([stale]))
    process, _ = serve(data_dir)
    assert postmasters(pgdata)
    assert handles(pgdata) == [process.pid]
    process.send_signal(stop)
    process.wait(timeout=60)
    assert wait_for_no_postmaster(pgdata) == []
    assert handles(pgdata) == []


def test_a_killed_client_is_cleaned_up_by_the_next_run_and_the_server_stops_with_the_last(data_dir: Path, atlas2d) -> None:  # noqa: ANN001
    pgdata = data_dir / "pgdata"
    survivor, _ = serve(data_dir)
    killed, _ = serve(data_dir)
    assert sorted(handles(pgdata)) == sorted([survivor.pid, killed.pid])
    killed.kill()
    killed.wait(timeout=30)
    assert postmasters(pgdata), "nothing can run on SIGKILL: the server stays until the next run"

    status = atlas2d("status", ATLAS2D_DATA_DIR=str(data_dir))
    assert status.returncode == 0, status.stderr
    assert handles(pgdata) == [survivor.pid], "the killed client's handle is stale and dropped"
    assert postmasters(pgdata), "the surviving server process still uses it"

    survivor.send_signal(signal.SIGINT)
    survivor.wait(timeout=60)
    assert wait_for_no_postmaster(pgdata) == []
    assert handles(pgdata) == []


def test_the_last_killed_client_leaves_a_server_that_the_next_run_stops(data_dir: Path, atlas2d) -> None:  # noqa: ANN001
    pgdata = data_dir / "pgdata"
    process, _ = serve(data_dir)
    process.kill()
    process.wait(timeout=30)
    assert postmasters(pgdata)
    assert handles(pgdata) == [process.pid]
    status = atlas2d("status", ATLAS2D_DATA_DIR=str(data_dir))
    assert status.returncode == 0, status.stderr
    assert wait_for_no_postmaster(pgdata) == []
    assert handles(pgdata) == []


def test_the_server_takes_only_socket_connections_with_peer_authentication(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    url = start_embedded(pgdata)
    rules = [line.split() for line in (pgdata / "pg_hba.conf").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert rules == [["local", "all", "all", "peer", f"map={IDENT_MAP}"]]
    engine = make_engine(url)
    with engine.connect() as connection:
        loaded = connection.execute(text("SELECT type, database, user_name, auth_method, options FROM pg_hba_file_rules")).all()
        listening = connection.execute(text("SHOW listen_addresses")).scalar_one()
        via = connection.execute(text("SELECT client_addr IS NULL FROM pg_stat_activity WHERE pid = pg_backend_pid()")).scalar_one()
        mapped = connection.execute(text("SELECT map_name, sys_name, pg_username FROM pg_ident_file_mappings")).all()
    engine.dispose()
    assert [tuple(r) for r in loaded] == [("local", ["all"], ["all"], "peer", [f"map={IDENT_MAP}"])]
    assert listening == "" and via, "no TCP listener; this connection came over the socket"
    assert [tuple(r) for r in mapped] == [(IDENT_MAP, psutil.Process().username(), "all")]


def test_a_data_directory_with_trust_rules_is_rewritten_on_the_next_start(tmp_path: Path) -> None:
    """Data directories made before: initdb's rules trusted everyone, replication and 127.0.0.1 included."""
    script = (
        "import sys; from pathlib import Path; from atlas2d.schema.database import start_embedded; "
        "start_embedded(Path(sys.argv[1]))"
    )
    pgdata = tmp_path / "pgdata"
    subprocess.run([sys.executable, "-c", script, str(pgdata)], check=True, cwd=REPO, timeout=120)
    trusting = "local all all trust\nhost all all 127.0.0.1/32 trust\nlocal replication all trust\n"
    (pgdata / "pg_hba.conf").write_text(trusting)
    subprocess.run([sys.executable, "-c", script, str(pgdata)], check=True, cwd=REPO, timeout=120)
    assert (pgdata / "pg_hba.conf").read_text() == HBA.format(map=IDENT_MAP)
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == []
    assert wait_for_no_postmaster(pgdata) == []


def test_a_server_whose_data_directory_was_deleted_is_stopped_at_exit(tmp_path: Path) -> None:
    """Benchmarks start servers in temporary directories that are removed before the process exits."""
    pgdata = tmp_path / "temporary" / "pgdata"
    script = (
        "import shutil, sys; from pathlib import Path; from atlas2d.schema.database import start_embedded; "
        "start_embedded(Path(sys.argv[1])); shutil.rmtree(Path(sys.argv[1]).parent)"
    )
    finished = subprocess.run([sys.executable, "-c", script, str(pgdata)], cwd=REPO, timeout=120, capture_output=True, text=True)
    assert finished.returncode == 0 and finished.stderr == "", finished.stderr
    assert wait_for_no_postmaster(pgdata) == []


def test_memory_settings_follow_the_machine() -> None:
    gib = 2**30
    assert server_settings(2 * gib) == {"shared_buffers": "512MB", "effective_cache_size": "1024MB", "work_mem": "16MB"}
    assert server_settings(64 * gib)["shared_buffers"] == f"{SHARED_BUFFERS_CAP_MB}MB", "capped"
    assert server_settings(256 * 2**20)["shared_buffers"] == "128MB", "never below initdb's default"


def test_the_embedded_server_runs_with_the_memory_settings(tmp_path: Path) -> None:
    """Written before the first start and included from ``postgresql.conf``, once however often it starts."""
    url = start_embedded(tmp_path / "pgdata")
    engine = make_engine(url)
    with engine.connect() as connection:
        names = ("shared_buffers", "effective_cache_size", "work_mem")
        query = text("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(:n)")
        running = dict(connection.execute(query, {"n": list(names)}).all())
    engine.dispose()
    wanted = server_settings(psutil.virtual_memory().total)
    as_mb = {name: int(value[:-2]) * (1024 if value.endswith("GB") else 1) for name, value in running.items()}
    assert as_mb == {name: int(value.removesuffix("MB")) for name, value in wanted.items()}
    assert write_server_settings(tmp_path / "pgdata") is False, "a second start changes nothing"
    assert (tmp_path / "pgdata" / "postgresql.conf").read_text().count(SETTINGS_FILE) == 1
