"""Compute the isometry invariants (AMD and PDD) of stored structures that lack current ones.

The shape (``count_stale``, ``refresh``) is the one ``atlas2d.embeddings.refresh`` describes,
shared with the band fingerprints. A structure is stale when its ``invariants_version``
differs from this code's (``INVARIANTS_VERSION``) or it has no AMD, so changing the invariant
definition recomputes everything once.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain

import numpy as np
from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex, DropIndex

from atlas2d.embeddings.refresh import Progress, Staleness
from atlas2d.embeddings.structure.amd_index import AMD_INDEX
from atlas2d.embeddings.structure.invariants import INVARIANTS_VERSION, Invariants, invariants_of_cells
from atlas2d.schema.fetch import binary_results, fetched
from atlas2d.schema.models import Structure

INVARIANT_BATCH = 1024
"""Structures whose invariants are computed (and committed) together. Measured on the dedup
benchmark's 2,000 structures: 256 took 0.3 s longer than 1024 (a read, a COPY, an UPDATE
and a commit per batch; a compiled batch spreads better over the cores), 2048 no faster."""

BULK_REINDEX = 500
"""Structures to compute at or above which the HNSW index on ``structure.amd`` may be dropped
and built again once at the end. Measured: keeping the index up to date costs about 1.3 ms
per updated row, building it for 2,000 vectors about 0.5 s (pgvector advises the same:
build the index after loading)."""

REINDEX_SHARE = 0.2
"""...and only when they are at least this share of all structures: a build costs about
0.25 ms per vector in the index, an update 1.3 ms per computed one, so for 1,000 new
structures in a store of 100,000 a rebuild (about 25 s) loses to updating (about 1.3 s)."""


def _stale() -> ColumnElement[bool]:
    """Structures without current invariants: none yet, or computed by another definition.

    Written as ranges around the current version rather than ``IS DISTINCT FROM`` so that
    PostgreSQL can answer each arm from an index (``ix_structure_invariants_version``,
    ``ix_structure_without_amd``): after 1,000 new records in a store of 100,000 it reads
    those, not the whole table.
    """
    version = Structure.invariants_version
    return version.is_(None) | (version < INVARIANTS_VERSION) | (version > INVARIANTS_VERSION) | Structure.amd.is_(None)


def count_stale(session: Session) -> Staleness:
    """How many structures ``refresh`` would compute, and how many there are."""
    stale = session.execute(select(func.count()).select_from(Structure).where(_stale())).scalar_one()
    total = session.execute(select(func.count()).select_from(Structure)).scalar_one()
    return Staleness(stale, total)


def refresh(
    session: Session,
    device: str = "auto",
    batch_size: int = INVARIANT_BATCH,
    progress: Progress | None = None,
) -> int:
    """Compute AMD and PDD for every stale structure, committing per batch; return how many were computed.

    One batch's invariants are computed in a worker thread (compiled code that releases the
    GIL) while this thread reads the next batch and writes the one before: PostgreSQL and the
    kernels then work at the same time, which took 5-20 % off the benchmark's first dedup on
    two cores.
    """
    ids = session.execute(select(Structure.entry_id).where(_stale()).order_by(Structure.entry_id)).scalars().all()
    total = session.execute(select(func.count()).select_from(Structure)).scalar_one() if len(ids) >= BULK_REINDEX else 0
    if len(ids) >= BULK_REINDEX and len(ids) >= REINDEX_SHARE * total:
        session.execute(DropIndex(AMD_INDEX, if_exists=True))
        session.commit()
    with ThreadPoolExecutor(max_workers=1) as worker:
        pending: tuple[Sequence[int], Future[list[Invariants]]] | None = None
        for start in range(0, len(ids) + batch_size, batch_size):
            chunk = ids[start : start + batch_size]
            computing = None
            if chunk:
                entry_ids, cells = _read_cells(session, chunk)
                computing = (entry_ids, worker.submit(invariants_of_cells, *cells, device=device))
            if pending is not None:
                _write_invariants(session, pending[0], pending[1].result())
                session.commit()
                if progress is not None:
                    progress(len(pending[0]))
            pending = computing
    session.execute(CreateIndex(AMD_INDEX, if_not_exists=True))
    session.commit()
    return len(ids)


def _read_cells(session: Session, entry_ids: Sequence[int]) -> tuple[Sequence[int], tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]]:
    """Stored cells packed as ``invariants_of_cells`` takes them (lattices, positions, offsets, species), and their entry ids."""
    with binary_results(session):
        rows = session.execute(
            select(
                Structure.entry_id,
                func.array_send(Structure.lattice_vectors),
                func.array_send(Structure.cartesian_site_positions),
                fetched(Structure.species_at_sites),
            ).where(Structure.entry_id.in_(entry_ids))
        ).all()
    found, lattices, positions, species = zip(*rows, strict=True)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in species], out=offsets[1:])
    cells = (_float_items(lattices).reshape(-1, 3, 3), _float_items(positions).reshape(-1, 3), offsets, list(chain.from_iterable(species)))
    return found, cells


_ARRAY_ITEM = np.dtype([("length", ">i4"), ("value", ">f8")])
"""One item of a float8[] in PostgreSQL's binary form: its byte length, then its value."""

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
"""The signature, flags and header extension length that open a binary COPY stream."""


def _float_items(blobs: Sequence[bytes]) -> np.ndarray:
    """The items of float8[] values sent in binary (``array_send``), all arrays one after the other, flat.

    psycopg turns a binary float array into nested lists of Python floats, which took longer
    than computing the invariants; here the arrays' headers are cut out of the joined bytes
    and the rest read as (length, big-endian value) pairs. All arrays must have the same
    number of dimensions and no NULL items (so every header has the same size).
    """
    joined = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
    heads = (np.cumsum(lengths) - lengths)[:, None] + np.arange(12 + 8 * int.from_bytes(blobs[0][:4], "big"))
    if np.any(joined[heads[:, :4]] != joined[heads[0, :4]]) or joined[heads[:, 4:8]].any():
        raise ValueError("stored float arrays differ in dimensions or hold NULL items")
    keep = np.ones(len(joined), dtype=bool)
    keep[heads] = False
    return joined[keep].view(_ARRAY_ITEM)["value"].astype(float)


def _write_invariants(session: Session, entry_ids: Sequence[int], found: Sequence[Invariants]) -> None:
    """Store AMDs, PDDs and the invariants version: one binary COPY into a temporary table, one UPDATE.

    An executemany UPDATE formatted each AMD as pgvector text and ran one statement per
    structure; the binary stream carries each AMD as pgvector's binary form (dimension,
    unused, big-endian float4s) and each PDD as its bytes.
    """
    amds = np.stack([inv.amd for inv in found]).astype(">f4")
    vector_head = struct.pack("!ihh", 4 + 4 * amds.shape[1], amds.shape[1], 0)
    parts = [_COPY_HEADER]
    for entry_id, amd, inv in zip(entry_ids, amds, found, strict=True):
        pdd = inv.pdd.to_bytes()
        parts += [struct.pack("!hiq", 3, 8, entry_id), vector_head, amd.tobytes(), struct.pack("!i", len(pdd)), pdd]
    parts.append(struct.pack("!h", -1))
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS new_invariants (entry_id bigint, amd vector({amds.shape[1]}), pdd bytea)"
            " ON COMMIT DELETE ROWS"
        )
    )
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy("COPY new_invariants FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(b"".join(parts))
    session.execute(
        text(
            "UPDATE structure AS s SET amd = n.amd, pdd = n.pdd, invariants_version = :version"
            " FROM new_invariants AS n WHERE s.entry_id = n.entry_id"
        ),
        {"version": INVARIANTS_VERSION},
    )
