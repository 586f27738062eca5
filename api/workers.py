"""Serve one ASGI application from several uvicorn worker processes on one listening socket.

A request spends most of its time in Python (routing, filter translation, rendering), and
one Python process runs Python on one core at a time: one process per core is what lets
``atlas2d serve`` use the machine. uvicorn's own ``--workers`` spawns fresh interpreters
that import the application by name, which cannot carry the store settings the command
line parsed; here the parent binds the socket and forks, and each worker builds its own
application (its own database connections: a connection must never cross a fork) and
serves the shared socket, the kernel spreading connections among them.

After a worker has built its application, ``gc.freeze()`` moves everything it allocated at
start-up (the OPTIMADE models, SQLAlchemy's tables, the grammar) out of the collector's
reach, so that the full collections that do happen under load walk only what requests
allocate: fewer long pauses in the tail of the latency.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import socket
import sys
from collections.abc import Callable

import uvicorn
from anyio import to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_DEFAULT_WORKERS = 4
"""Each worker pools its own connections (three engines of ``HANDLER_THREADS``); four workers stay well
inside PostgreSQL's default of 100 connections, shared with the rest of atlas2d."""


def default_workers() -> int:
    """One worker per CPU this process may run on, at most ``MAX_DEFAULT_WORKERS``."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_WORKERS, cpus))


def serve(build: Callable[[], ASGIApp], *, host: str, port: int, workers: int, threads: int, log_level: str) -> None:
    """Serve ``build()``'s application on ``host:port`` from ``workers`` processes until stopped.

    Each worker runs the synchronous request handlers on ``threads`` threads (Starlette's
    default is 40): handlers hold Python's lock for most of their time, so more threads than
    pooled connections only add lock hand-overs and make every request of a burst equally
    late; with a few, requests queue in order and the first ones finish first.

    With one worker the application is built and served in this process. With more, this
    process binds the socket, forks the workers, and waits: SIGINT or SIGTERM stops them all
    (each finishes its open requests); a worker that dies stops the others, and the command
    exits with an error rather than serve on with part of its capacity.
    """
    if workers <= 1:
        config = uvicorn.Config(with_thread_limit(build(), threads), host=host, port=port, log_level=log_level)
        frozen_start(config)
        return
    config = uvicorn.Config(_unbuilt, host=host, port=port, log_level=log_level)
    listener = config.bind_socket()
    children = [_fork_worker(lambda: with_thread_limit(build(), threads), config, listener) for _ in range(workers)]
    _supervise(children)


def frozen_start(config: uvicorn.Config, sockets: list[socket.socket] | None = None) -> None:
    """Run uvicorn on ``config`` after freezing the start-up objects out of the collector's way."""
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run(sockets=sockets)


def with_thread_limit(app: ASGIApp, threads: int) -> ASGIApp:
    """``app`` whose synchronous handlers run on at most ``threads`` threads (set at lifespan start-up)."""

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            to_thread.current_default_thread_limiter().total_tokens = threads
        await app(scope, receive, send)

    return limited


async def _unbuilt(scope: object, receive: object, send: object) -> None:
    """Placeholder application of the parent's config: each worker replaces it with its own."""
    raise RuntimeError("the parent process of atlas2d serve's workers answers no requests")


def _fork_worker(build: Callable[[], ASGIApp], config: uvicorn.Config, listener: socket.socket) -> int:
    """Fork one worker that builds its application and serves ``listener``; return its pid."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_DFL)
        _stop_with(parent)
        config.app = build()
        frozen_start(config, [listener])
        code = 0
    except BaseException as exc:  # noqa: BLE001 - a worker reports its failure and exits; the parent stops the rest
        if not isinstance(exc, KeyboardInterrupt | SystemExit):
            print(f"error: an atlas2d serve worker failed: {exc}", file=sys.stderr, flush=True)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # never run the parent's exit handlers (the embedded server's release) in a worker


def _stop_with(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when ``parent`` dies, even by SIGKILL (Linux).

    Otherwise a killed ``atlas2d serve`` would leave its workers serving, and holding
    connections to a database server that its last user is about to stop.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        raise SystemExit(0)  # the parent died before the request above was made


PR_SET_PDEATHSIG = 1
"""``prctl`` option: the signal a process gets when its parent exits."""


def _supervise(children: list[int]) -> None:
    """Wait for the workers; when one exits or this process is told to stop, stop them all."""
    failed = False
    try:
        pid, status = os.wait()
        children.remove(pid)
        failed = os.waitstatus_to_exitcode(status) != 0
    except KeyboardInterrupt:
        pass  # Ctrl-C reached the workers too: they shut down like a single server would
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                continue
    if failed:
        raise SystemExit("error: an atlas2d serve worker exited unexpectedly; the server stopped")
