"""``atlas2d serve --workers N``: N processes answer on one port, and none outlives the command."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from atlas2d.testdata.load import run_load
from atlas2d.testdata.servers import atlas2d_server
from tests.conftest import run_atlas2d


def serve_processes(port: int) -> dict[int, int]:
    """pid -> parent pid of every process running ``atlas2d serve`` on ``port``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"serve" in command and str(port).encode() in command and stat[0] != "Z":
            found[int(entry.name)] = int(stat[1])
    return found


def gone(port: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while serve_processes(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_two_workers_answer_concurrent_clients_and_stop_with_the_command(store: tuple[str, Any]) -> None:
    with atlas2d_server(store[0], workers=2) as base:
        port = urlsplit(base).port
        assert port is not None
        processes = serve_processes(port)
        parents = [pid for pid, parent in processes.items() if parent not in processes]
        assert len(parents) == 1 and len(processes) == 3, processes
        assert sorted(parent for pid, parent in processes.items() if pid != parents[0]) == [parents[0]] * 2
        result = run_load(base, ["/v1/structures?page_limit=3", "/v1/info", "/"], concurrency=8, seconds=2, warmup=0)
        assert result.failures == []
        assert len(result.latencies_ms) >= 8
    assert gone(port), "a worker outlived atlas2d serve"


def test_workers_stop_when_the_command_is_killed(store: tuple[str, Any]) -> None:
    with atlas2d_server(store[0], workers=2) as base:
        port = urlsplit(base).port
        assert port is not None
        processes = serve_processes(port)
        (parent,) = [pid for pid, ppid in processes.items() if ppid not in processes]
        os.kill(parent, signal.SIGKILL)
        assert gone(port), "the workers of a killed atlas2d serve must stop too"


def test_workers_must_be_a_positive_number() -> None:
    result = run_atlas2d("serve", "--workers", "0")
    assert result.returncode == 2
    text = " ".join(result.stderr.replace("│", " ").split())
    assert "workers" in text and "greater than or equal to 1" in text, result.stderr
