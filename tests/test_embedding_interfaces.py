"""The shapes shared by structure and band embeddings: one search interface, one refresh.

Against the real store: ``resolve`` finds the entry an ``ID | source/key`` names, the
registry names the searches, and both stale-vector refreshes count, compute and report
progress the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.embeddings.bands import refresh as fingerprint_refresh
from atlas2d.embeddings.bands.model import load_model
from atlas2d.embeddings.bands.search import similar_by_bands
from atlas2d.embeddings.neighbour import SearchError
from atlas2d.embeddings.refresh import Staleness
from atlas2d.embeddings.search import SEARCHES, resolve, search_named
from atlas2d.embeddings.structure import refresh as invariant_refresh
from atlas2d.embeddings.structure.search import similar_by_structure
from atlas2d.ingest.band_store import write_band_records
from atlas2d.ingest.sources.tight_binding import ADAPTER, generate
from atlas2d.ingest.store import ensure_source
from atlas2d.schema.models import Entry, Source
from atlas2d.testdata.poscar import POSCAR_SOURCE, poscar_structures, seed_store, structure_record


def _id(session: Session, source: str, key: str) -> int:
    return session.execute(select(Entry.id).join(Source).where(Source.name == source, Entry.source_key == key)).scalar_one()


def test_resolve_takes_an_entry_id_a_source_and_key_or_a_unique_key(session: Session) -> None:
    bands = generate(1, seed=61)
    write_band_records(session, ensure_source(session, ADAPTER.source), [m.record for m in bands], source_file="test")
    session.commit()
    shared, only_bands = bands[0].record.entry.source_key, bands[1].record.entry.source_key
    (_, first), (_, second) = poscar_structures(2)
    seed_store(session, [structure_record(shared, first), structure_record("folder/with-slash", second)])

    assert resolve(session, "12345") == 12345
    assert resolve(session, only_bands) == _id(session, ADAPTER.source.name, only_bands)
    assert resolve(session, f"{POSCAR_SOURCE.name}/{shared}") == _id(session, POSCAR_SOURCE.name, shared)
    assert resolve(session, f"{ADAPTER.source.name}/{shared}") == _id(session, ADAPTER.source.name, shared)
    slashed = _id(session, POSCAR_SOURCE.name, "folder/with-slash")
    assert resolve(session, f"{POSCAR_SOURCE.name}/folder/with-slash") == slashed
    assert resolve(session, "folder/with-slash") == slashed
    with pytest.raises(SearchError, match="exists in several sources"):
        resolve(session, shared)
    for unknown in ("no-such-key", f"{ADAPTER.source.name}/no-such-key", f"no-such-source/{only_bands}", ""):
        with pytest.raises(SearchError, match="no entry with id or source key"):
            resolve(session, unknown)


def test_the_registry_names_each_search_once() -> None:
    assert SEARCHES == {"structure": similar_by_structure, "bands": similar_by_bands}
    assert search_named("structure") is similar_by_structure
    assert search_named("structures") is similar_by_structure
    assert search_named("bands") is similar_by_bands
    with pytest.raises(ValueError, match="unknown similarity 'smell': use structure, bands"):
        search_named("smell")


Refresh = tuple[Callable[[Session], Staleness], Callable[..., int]]


def _refreshes() -> dict[str, Refresh]:
    """Each vector column's refresh with what it needs bound: the device, or the fingerprint model."""
    model = load_model(device="cpu")
    return {
        "invariants": (invariant_refresh.count_stale, lambda s, **kw: invariant_refresh.refresh(s, device="cpu", **kw)),
        "fingerprints": (
            lambda s: fingerprint_refresh.count_stale(s, model.identifier),
            lambda s, **kw: fingerprint_refresh.refresh(s, model, **kw),
        ),
    }


@pytest.mark.parametrize("column", ["invariants", "fingerprints"])
def test_both_refreshes_count_compute_and_report_progress_alike(session: Session, column: str) -> None:
    write_band_records(session, ensure_source(session, ADAPTER.source), [m.record for m in generate(1, seed=62)], source_file="test")
    session.commit()
    seed_store(session, [structure_record(key, s) for key, s in poscar_structures(5)])
    count_stale, refresh = _refreshes()[column]
    before = count_stale(session)
    assert before.stale == before.total > 0
    batches: list[int] = []
    assert refresh(session, batch_size=2, progress=batches.append) == before.total
    assert sum(batches) == before.total and len(batches) == -(-before.total // 2)
    assert count_stale(session) == Staleness(0, before.total)
    assert refresh(session, progress=batches.append) == 0
