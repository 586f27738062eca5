"""A light HTTP load generator: N keep-alive clients sending GET requests for a fixed time.

The benchmarks run it on the same machine as the servers they measure, so its own CPU time
is taken from theirs: a request through httpx costs the client 3-4 ms of CPU on a page of 20
structures, as much as the server's share of the work. Each client here is one asyncio
stream speaking just enough HTTP/1.1 (a request line, ``Content-Length`` or chunked
bodies, keep-alive), a few tens of microseconds a request.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    """What ``run_load`` measured: latencies of the requests completed in the timed window."""

    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    client_cpu_s: float = 0.0
    answered: int = 0
    """Responses read, warm-up included: what ``client_cpu_s`` was spent on."""

    @property
    def requests_per_s(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile_ms(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of the latencies, nearest rank; NaN when none was timed."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    def figures(self, prefix: str) -> dict[str, float | int]:
        """The figures under ``prefix`` (``atlas2d_requests_per_s``, ``atlas2d_p50_ms``, …)."""
        return {
            f"{prefix}_requests_per_s": round(self.requests_per_s, 1),
            f"{prefix}_p50_ms": round(self.percentile_ms(50), 1),
            f"{prefix}_p90_ms": round(self.percentile_ms(90), 1),
            f"{prefix}_p99_ms": round(self.percentile_ms(99), 1),
            f"{prefix}_max_ms": round(max(self.latencies_ms, default=float("nan")), 1),
            f"{prefix}_requests": len(self.latencies_ms),
            f"{prefix}_failures": len(self.failures),
            f"{prefix}_client_cpu_ms_per_request": round(1000 * self.client_cpu_s / max(1, self.answered), 3),
        }


class Connection:
    """One keep-alive HTTP/1.1 connection that sends GET requests and reads whole responses."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        """``GET target`` (path and query, already encoded): the status and the body."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: */*\r\n\r\n".encode("ascii"))
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        chunks = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append(await self.reader.readexactly(size + 2))
            if size == 0:
                return b"".join(chunks)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def _client(base: str, targets: list[str], first: int, start: float, stop: float, result: LoadResult) -> None:
    """Send ``targets`` in turn from index ``first`` until ``stop``; record those that started after ``start``."""
    connection = Connection(base)
    index = first
    try:
        while (sent := time.perf_counter()) < stop:
            target = targets[index % len(targets)]
            index += 1
            try:
                status, body = await connection.get(target)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                result.failures.append(f"{target}: {type(exc).__name__}: {exc}")
                await connection.close()
                continue
            result.answered += 1
            if status != 200:
                result.failures.append(f"{target}: HTTP {status}: {body[:200]!r}")
            elif sent >= start:
                result.latencies_ms.append((time.perf_counter() - sent) * 1000)
    finally:
        await connection.close()


async def _run(base: str, targets: list[str], concurrency: int, seconds: float, warmup: float) -> LoadResult:
    begin = time.perf_counter()
    start, stop = begin + warmup, begin + warmup + seconds
    result = LoadResult(seconds=seconds)
    cpu = time.process_time()
    await asyncio.gather(*(_client(base, targets, i * len(targets) // concurrency, start, stop, result) for i in range(concurrency)))
    result.seconds = max(seconds, time.perf_counter() - start)
    result.client_cpu_s = time.process_time() - cpu
    return result


def run_load(base: str, targets: list[str], *, concurrency: int, seconds: float, warmup: float = 2.0) -> LoadResult:
    """``concurrency`` clients send ``targets`` (paths with query) to ``base`` for ``warmup + seconds``.

    Each client starts at a different place in ``targets`` and cycles through them; the
    requests sent during the first ``warmup`` seconds are not counted. The window closes
    for new requests at the end, and the rate counts the requests that started in it over
    the time until the last of them was answered.
    """
    return asyncio.run(_run(base, targets, concurrency, seconds, warmup))


def cpu_seconds(*words: str) -> float:
    """CPU time (user + system, seconds) used so far by the live processes whose command line
    has all of ``words`` (Linux ``/proc``; 0 elsewhere).

    On a machine shared with other work, requests per second say how much CPU the servers
    got; CPU seconds per request say what they needed. PostgreSQL backends show their
    database in their command line (``postgres: USER DB [local] …``).
    """
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if all(word in command for word in words):
            total += int(fields[11]) + int(fields[12])
    return total / ticks
