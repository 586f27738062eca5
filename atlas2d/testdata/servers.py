"""Real server processes for tests and benchmarks: ``atlas2d serve`` or any command on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from atlas2d.testdata import REPO


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    """Poll ``url`` until it answers 200; fail with the server's output if it dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else "(see its log file)"
            raise RuntimeError(f"server exited with {process.returncode}: {output}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"server at {url} did not come up in {timeout} s")


@contextmanager
def running(command: list[str], probe_path: str, env: dict[str, str] | None = None, log: Path | None = None) -> Iterator[str]:
    """Run a server ``command`` (``{port}`` is substituted) and yield its base URL.

    Its output goes to a pipe read when it stops, or to the file ``log``: a server that
    writes a line per request (thousands of them) would block on a full pipe.
    """
    port = free_port()
    with ExitStack() as files:
        output = files.enter_context(log.open("w")) if log else subprocess.PIPE
        process = subprocess.Popen(
            [part.format(port=port) for part in command],
            cwd=REPO,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("ATLAS2D_")}, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base + probe_path, process)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()


@contextmanager
def atlas2d_server(store_url: str, log: Path | None = None, workers: int | None = None) -> Iterator[str]:
    """``atlas2d serve`` on a free port over the store at ``store_url`` (output to the file ``log``, if
    given), with ``workers`` server processes (the command's default if None)."""
    command = [sys.executable, "-m", "atlas2d", "serve", "--host", "127.0.0.1", "--port", "{port}"]
    with running(
        [*command, *(["--workers", str(workers)] if workers else [])],
        "/v1/info",
        env={"ATLAS2D_DATABASE_URL": store_url},
        log=log,
    ) as base:
        yield base
