"""Band structures in the real store: writing, fingerprinting, invariance, retrieval, flat bands.

Everything goes through PostgreSQL + pgvector: band structures are written with the band
writer, fingerprinted with the shipped weights, read back and searched with the same SQL
the command line uses. The generated models here use seeds other than the training seed
(7), so they are held out.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from atlas2d.embeddings.bands.model import FINGERPRINT_LENGTH, load_model
from atlas2d.embeddings.bands.picture import rasterise
from atlas2d.embeddings.bands.refresh import count_stale, refresh
from atlas2d.embeddings.bands.search import similar_by_bands
from atlas2d.embeddings.neighbour import SearchError
from atlas2d.embeddings.search import resolve
from atlas2d.ingest.band_records import BandRecord, Segment, segments_from_json
from atlas2d.ingest.band_store import BandWriteCounts, write_band_records
from atlas2d.ingest.pipeline import ingest_streams
from atlas2d.ingest.sources.tight_binding import (
    ADAPTER,
    band_structure,
    generate,
    random_parameters,
)
from atlas2d.ingest.store import ensure_source
from atlas2d.schema.database import make_engine
from atlas2d.schema.models import BandStructure, Entry, Quarantine

HELD_OUT_SEED = 4242


@pytest.fixture(scope="module")
def model():  # noqa: ANN201 - FingerprintModel
    return load_model(device="cpu")


def _entry_id(session: Session, key: str) -> int:
    return session.execute(select(Entry.id).where(Entry.source_key == key)).scalar_one()


def _write(session: Session, records: list[BandRecord]) -> BandWriteCounts:
    """What writing ``records`` did to the band structures (entries written with them)."""
    return write_band_records(session, ensure_source(session, ADAPTER.source), records, source_file="test")[1]


def _store(session: Session, records: list[BandRecord]) -> None:
    _write(session, records)
    session.commit()


def test_writing_is_idempotent_and_changed_bands_lose_their_fingerprint(session: Session, model) -> None:  # noqa: ANN001
    models = generate(2, seed=HELD_OUT_SEED)
    counts = _write(session, [m.record for m in models])
    session.commit()
    assert (counts.inserted, counts.unchanged) == (len(models), 0)
    again = _write(session, [m.record for m in models])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(models))
    assert session.execute(select(func.count()).select_from(Entry).where(Entry.material_id.is_not(None))).scalar_one() == 0

    assert refresh(session, model) == len(models)
    assert count_stale(session, model.identifier) == (0, len(models))
    assert refresh(session, model) == 0

    first = models[0]
    shifted = band_structure(first.record.entry.raw["model"], first.record.entry.source_key, energy_shift=0.5)
    changed = _write(session, [shifted.record])
    session.commit()
    assert changed.updated == 1
    entry_id = _entry_id(session, first.record.entry.source_key)
    row = session.execute(select(BandStructure).where(BandStructure.entry_id == entry_id)).scalar_one()
    assert row.fingerprint is None and row.fingerprint_model is None
    assert row.provenance["origin"] == "generated tight-binding"
    assert count_stale(session, model.identifier) == (1, len(models))


def test_stored_fingerprints_equal_direct_encoding(session: Session, model) -> None:  # noqa: ANN001
    models = generate(2, seed=HELD_OUT_SEED + 1)
    _store(session, [m.record for m in models])
    refresh(session, model, batch_size=5)
    rows = session.execute(select(BandStructure).order_by(BandStructure.id)).scalars().all()
    vectors = np.stack([np.asarray(r.fingerprint, dtype=np.float32) for r in rows])
    assert vectors.shape == (len(models), FINGERPRINT_LENGTH)
    assert {r.fingerprint_model for r in rows} == {model.identifier}
    pictures = [rasterise(segments_from_json(r.kpath, r.energies), r.fermi_level) for r in rows]
    assert np.allclose(model.encode(pictures), vectors, atol=1e-5)


def test_another_models_fingerprints_are_recomputed(session: Session, model) -> None:  # noqa: ANN001
    _store(session, [m.record for m in generate(1, seed=HELD_OUT_SEED + 2)])
    refresh(session, model)
    session.execute(update(BandStructure).values(fingerprint_model="bands-cae-v0:old"))
    session.commit()
    assert count_stale(session, model.identifier)[0] == 6
    assert refresh(session, model) == 6


def test_bad_band_records_go_to_quarantine(store_url: str) -> None:
    good, broken = (m.record for m in generate(1, seed=HELD_OUT_SEED + 5)[:2])
    first = broken.segments[0]
    energies = first.energies.copy()
    energies[0, 0, 1] = np.nan
    broken.segments[0] = Segment(first.start, first.end, first.distances, energies)
    engine = make_engine(store_url)
    summary = ingest_streams(engine, ADAPTER, [("test", iter([good, broken]))])
    with Session(engine) as session:
        reasons = session.execute(select(Quarantine.locator, Quarantine.reason)).all()
        keys = session.execute(select(Entry.source_key).join(BandStructure)).scalars().all()
    engine.dispose()
    assert (summary.bands.inserted, summary.quarantined) == (1, 1)
    assert keys == [good.entry.source_key]
    assert reasons == [(broken.entry.locator, f"invalid band structure: segment {first.label}: non-finite energy or k-distance")]


def test_invariance_to_k_density_energy_reference_and_segment_order(session: Session, model) -> None:  # noqa: ANN001
    """Variants of one model are nearer to each other than to any other model in the store."""
    rng = np.random.default_rng(HELD_OUT_SEED + 3)
    others = generate(8, seed=HELD_OUT_SEED + 4)
    groups: dict[str, list[str]] = {}
    records = [m.record for m in others]
    for family in ("dirac", "kagome", "gapped", "lieb", "triangular", "square"):
        params = random_parameters(family, rng)
        base = f"{family}-base"
        reversed_path = ("Γ", "K", "M", "Γ") if family in ("dirac", "kagome", "gapped", "triangular") else ("Γ", "M", "X", "Γ")
        variants = {
            base: band_structure(params, base, density=40.0),
            f"{base}-sparse-k": band_structure(params, f"{base}-sparse-k", density=12.0),
            f"{base}-dense-k": band_structure(params, f"{base}-dense-k", density=90.0),
            f"{base}-shifted": band_structure(params, f"{base}-shifted", density=40.0, energy_shift=-3.3),
            f"{base}-reordered": band_structure(params, f"{base}-reordered", density=40.0, path=reversed_path),
        }
        groups[base] = list(variants)
        records += [v.record for v in variants.values()]
    _store(session, records)
    refresh(session, model)
    for base, members in groups.items():
        for key in members:
            neighbours = similar_by_bands(session, _entry_id(session, key), k=len(members) - 1)
            assert {n.source_key for n in neighbours} == set(members) - {key}, key
            farthest_variant = neighbours[-1].distance
            nearest_other = similar_by_bands(session, _entry_id(session, key), k=len(members))[-1]
            assert nearest_other.source_key not in members
            assert farthest_variant < nearest_other.distance


def test_held_out_families_retrieve_their_own_family_at_k10(session: Session, model) -> None:  # noqa: ANN001
    held_out = generate(40, seed=HELD_OUT_SEED + 5)
    _store(session, [m.record for m in held_out])
    refresh(session, model)
    same: Counter[str] = Counter()
    for member in held_out:
        neighbours = similar_by_bands(session, _entry_id(session, member.record.entry.source_key), k=10)
        assert len(neighbours) == 10
        assert [n.distance for n in neighbours] == sorted(n.distance for n in neighbours)
        same[member.family] += sum(n.provenance["family"] == member.family for n in neighbours)
    precision = sum(same.values()) / (10 * len(held_out))
    per_family = {family: round(same[family] / (10 * 40), 3) for family in same}
    print(f"family precision@10 on {len(held_out)} held-out models: {precision:.3f} {per_family}")
    assert precision >= 0.9


def test_flat_bands_are_detected_from_stored_fingerprints(session: Session, model) -> None:  # noqa: ANN001
    held_out = generate(30, seed=HELD_OUT_SEED + 6)
    _store(session, [m.record for m in held_out])
    refresh(session, model)
    rows = session.execute(select(BandStructure.fingerprint, BandStructure.provenance)).all()
    vectors = np.stack([np.asarray(r.fingerprint, dtype=np.float32) for r in rows])
    truth = np.array([r.provenance["flat_band"] for r in rows])
    assert 0.1 < truth.mean() < 0.5
    accuracy = float(((model.flat_band_probability(vectors) > 0.5) == truth).mean())
    print(f"flat-band head accuracy on {len(rows)} held-out models: {accuracy:.3f}")
    assert accuracy >= 0.9


def test_search_refuses_unknown_entries_and_missing_fingerprints(session: Session) -> None:
    _store(session, [m.record for m in generate(1, seed=HELD_OUT_SEED + 7)])
    with pytest.raises(SearchError, match="no entry"):
        resolve(session, "no-such-key")
    entry_id = resolve(session, f"kagome-s{HELD_OUT_SEED + 7}-00000")
    with pytest.raises(SearchError, match="no fingerprint yet"):
        similar_by_bands(session, entry_id, k=3)
    with pytest.raises(SearchError, match="no band structure"):
        similar_by_bands(session, 10**9, k=3)
    with pytest.raises(ValueError, match="k must be"):
        similar_by_bands(session, entry_id, k=0)
