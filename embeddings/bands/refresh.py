"""Compute and store the fingerprints of stored band structures that lack an up-to-date one.

The shape (``count_stale``, ``refresh``) is the one ``atlas2d.embeddings.refresh`` describes,
shared with the structure invariants. A fingerprint is up to date when its
``fingerprint_model`` is the identifier of the model in use (name plus the weights'
SHA-256). The band data themselves are immutable per ``data_sha256``: the band writer
clears the fingerprint when it replaces the data, so a missing vector or another model's
identifier is all this step has to look for.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from atlas2d.embeddings.bands.model import FingerprintModel
from atlas2d.embeddings.bands.picture import rasterise_many
from atlas2d.embeddings.refresh import Progress, Staleness
from atlas2d.ingest.band_records import segments_from_json
from atlas2d.schema.models import BandStructure

FINGERPRINT_BATCH = 256
"""Band structures drawn, encoded and committed together."""


def _stale(identifier: str) -> ColumnElement[bool]:
    """Rows whose fingerprint is missing or was made by another model."""
    return or_(BandStructure.fingerprint.is_(None), BandStructure.fingerprint_model.is_distinct_from(identifier))


def count_stale(session: Session, identifier: str) -> Staleness:
    """How many band structures ``refresh`` would fingerprint with model ``identifier``, and how many there are."""
    stale = session.execute(select(func.count()).select_from(BandStructure).where(_stale(identifier))).scalar_one()
    total = session.execute(select(func.count()).select_from(BandStructure)).scalar_one()
    return Staleness(stale, total)


def refresh(
    session: Session,
    model: FingerprintModel,
    batch_size: int = FINGERPRINT_BATCH,
    progress: Progress | None = None,
) -> int:
    """Fingerprint every stale band structure, committing per batch; return how many were written."""
    written = 0
    while True:
        rows = session.execute(
            select(BandStructure.id, BandStructure.kpath, BandStructure.energies, BandStructure.fermi_level)
            .where(_stale(model.identifier))
            .order_by(BandStructure.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return written
        pictures = rasterise_many([(segments_from_json(r.kpath, r.energies), _fermi(r.fermi_level)) for r in rows])
        vectors = model.encode(pictures, batch_size=batch_size)
        session.execute(
            update(BandStructure),
            [
                {"id": r.id, "fingerprint": v, "fingerprint_model": model.identifier}
                for r, v in zip(rows, vectors, strict=True)
            ],
        )
        session.commit()
        written += len(rows)
        if progress is not None:
            progress(len(rows))


def _fermi(value: float | None) -> float:
    """A band structure stored without a Fermi level is drawn about 0 eV, its own zero."""
    return 0.0 if value is None else float(value)
