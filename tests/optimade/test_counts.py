"""Counts kept per filter until the store changes, and what makes broad filters cheap to count.

``meta.data_returned`` / ``data_available`` come from a count kept per filter text under the
store's version (``store_version``, raised by triggers on every write transaction); these
tests write to the store between requests to a real server and check that no stale count is
served. The index tests check, with the planner's cheaper paths switched off, that the
filters' columns are in ``ix_structure_filtered`` and that the ingest's VACUUM lets an
index-only scan count without visiting the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from atlas2d.api.optimade.counts import CountCache
from atlas2d.api.optimade.fields import STRUCTURES
from atlas2d.api.optimade.filter import filter_clause
from atlas2d.ingest.pipeline import ingest_files
from atlas2d.schema.database import make_engine, vacuum_for_reads
from atlas2d.testdata import SHARED_DATA
from atlas2d.testdata.poscar import POSCAR_SOURCE, poscar_structures, seed_store, structure_record
from atlas2d.testdata.servers import atlas2d_server
from tests.optimade.support import COPY_SOURCE, fresh_database

MC2D_SAMPLE = SHARED_DATA / "mc2d" / "mc2d_v4_structures_sample.json"


def _version(connection: Connection) -> int:
    return connection.execute(text("SELECT version FROM store_version")).scalar_one()


def test_count_cache_serves_only_the_version_it_was_counted_at() -> None:
    cache = CountCache(size=2)
    cache.put("nelements = 2", 7, 30)
    assert cache.get("nelements = 2", 7) == 30
    assert cache.get("nelements = 2", 8) is None, "a count of version 7 is stale at version 8"
    cache.put("nelements = 2", 6, 99)
    assert cache.get("nelements = 2", 7) == 30, "a request that counted before a write must not replace a newer count"
    cache.put("nelements = 3", 7, 5)
    cache.get("nelements = 2", 7)
    cache.put("nsites > 4", 7, 1)
    assert cache.get("nelements = 3", 7) is None, "the least recently used count goes first"
    assert cache.get("nelements = 2", 7) == 30


def test_every_write_transaction_raises_the_version_once(store_url: str) -> None:
    engine = make_engine(store_url)
    records = [structure_record(key, structure) for key, structure in poscar_structures(3)]
    with engine.connect() as connection:
        before = _version(connection)
    with Session(engine) as session:
        seed_store(session, records)  # source, entries, structures, preferred values: one transaction
    with engine.connect() as connection:
        after_seed = _version(connection)
    with engine.begin() as connection:
        connection.execute(text("UPDATE structure SET thickness = thickness"))
        connection.execute(text("DELETE FROM preferred_value WHERE false"))
    with engine.connect() as connection:
        after_update = _version(connection)
    with engine.begin() as connection:
        connection.execute(text("UPDATE quarantine SET resolved = resolved"))  # not behind the structures
    with engine.connect() as connection:
        assert _version(connection) == after_update
    engine.dispose()
    assert (after_seed, after_update) == (before + 1, before + 2)


@pytest.fixture
def small_server(template_url: str) -> Iterator[tuple[str, str]]:
    """A server over its own store of 6 poscar2d structures (these tests write to it)."""
    with fresh_database(template_url) as url:
        engine = make_engine(url)
        with Session(engine) as session:
            seed_store(session, [structure_record(key, structure) for key, structure in poscar_structures(6)])
        engine.dispose()
        with atlas2d_server(url) as base:
            yield url, base


def _meta(base: str, filter_text: str) -> tuple[int, int]:
    response = httpx.get(f"{base}/v1/structures", params={"filter": filter_text, "page_limit": 2}, timeout=30)
    assert response.status_code == 200, response.text[:500]
    meta = response.json()["meta"]
    return meta["data_returned"], meta["data_available"]


def test_a_write_between_two_requests_changes_their_counts(small_server: tuple[str, str]) -> None:
    url, base = small_server
    everything = 'nperiodic_dimensions = 2'
    assert _meta(base, everything) == (6, 6)
    assert _meta(base, everything) == (6, 6), "the kept count"
    engine = make_engine(url)
    extra = [structure_record(key, structure) for key, structure in poscar_structures(8)[6:]]
    with Session(engine) as session:
        seed_store(session, extra)
    assert _meta(base, everything) == (8, 8), "counts kept before an ingest must not be served after it"
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM entry WHERE id = (SELECT max(entry_id) FROM structure)"))
    assert _meta(base, everything) == (7, 7), "nor after a delete"
    with Session(engine) as session:
        seed_store(session, extra[:1], COPY_SOURCE)
    engine.dispose()
    assert _meta(base, f'_atlas2d_source = "{COPY_SOURCE.name}"') == (1, 8)
    assert _meta(base, f'_atlas2d_source = "{POSCAR_SOURCE.name}"') == (7, 8)


def _plan(connection: Connection, filter_text: str) -> str:
    """The plan of counting ``filter_text`` with sequential and bitmap scans off, as JSON text."""
    from sqlalchemy import func, select

    statement = select(func.count()).select_from(STRUCTURES).where(filter_clause(filter_text))
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    connection.execute(text("SET enable_seqscan = off"))
    connection.execute(text("SET enable_bitmapscan = off"))
    return json.dumps(connection.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")).scalar_one())


def test_ingest_leaves_broad_filters_countable_from_the_narrow_index_alone(store_url: str) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [MC2D_SAMPLE])  # ends with vacuum_for_reads
    with engine.connect() as connection:
        for filter_text in ("nelements = 2", 'NOT elements HAS "O"', 'chemical_formula_reduced CONTAINS "Se"', "nsites > 3"):
            plan = json.loads(_plan(connection, filter_text))[0]["Plan"]
            scans = [node for node in _nodes(plan) if "Scan" in node["Node Type"]]
            assert [(s["Node Type"], s.get("Index Name")) for s in scans] == [("Index Only Scan", "ix_structure_filtered")], filter_text
            assert scans[0]["Heap Fetches"] == 0, f"{filter_text}: the ingest's VACUUM marks the pages all-visible"
    engine.dispose()


def test_starts_with_uses_the_prefix_index(store_url: str) -> None:
    engine = make_engine(store_url)
    ingest_files(engine, "mc2d", [MC2D_SAMPLE])
    vacuum_for_reads(engine)
    with engine.connect() as connection:
        plan = _plan(connection, 'chemical_formula_reduced STARTS WITH "Mo"')
    engine.dispose()
    assert "ix_structure_formula_prefix" in plan


def _nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)
