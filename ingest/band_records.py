"""The in-memory currency of band structures, and the JSON they are stored as.

A band structure is a list of straight k-path segments between high-symmetry points. Each
segment keeps its own k-distances and energies, so a segment break (``X|U``) is simply the
start of another segment and nothing has to be inferred from repeated k-points later.
Energies are absolute eV as the source gave them; ``fermi_level`` is on the same scale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atlas2d.ingest.records import Record

MIN_POINTS_PER_SEGMENT = 2
"""A segment needs two k-points to have a direction and a length."""

MAX_ABS_ENERGY = 1.0e3
"""eV. Larger magnitudes are not band energies (wrong unit, Hartree/Rydberg mix-up, garbage)."""


class BandDataError(ValueError):
    """A band structure that breaks the shape or value rules; the message is the reason."""


@dataclass(frozen=True)
class Segment:
    """One straight piece of the k-path: ``energies`` has shape (spins, bands, k-points)."""

    start: str
    end: str
    distances: np.ndarray
    energies: np.ndarray

    @property
    def label(self) -> str:
        """The segment as written on a band plot, e.g. ``Γ-M``."""
        return f"{self.start}-{self.end}"


@dataclass
class BandRecord:
    """One band structure with the entry it belongs to.

    ``entry`` is the record of the material (or model) the bands describe; it goes through
    the ordinary store writer, and the band structure is attached to its entry.
    """

    entry: Record
    method: str
    fermi_level: float | None
    segments: list[Segment]
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def spin_channels(self) -> int:
        """1 for spin-degenerate, 2 for spin-polarized bands."""
        return int(self.segments[0].energies.shape[0])

    def kpath_json(self) -> dict[str, Any]:
        """The ``band_structure.kpath`` column: labels, breaks and k-distances per segment."""
        return {
            "labels": [[s.start, s.end] for s in self.segments],
            "distances": [np.round(s.distances, 8).tolist() for s in self.segments],
            "unit": "1/Å",
        }

    def energies_json(self) -> dict[str, Any]:
        """The ``band_structure.energies`` column: per segment, [spin][band][k] in eV."""
        return {"segments": [np.round(s.energies, 6).tolist() for s in self.segments], "unit": "eV"}

    def data_sha256(self) -> str:
        """Identity of the band data, so an unchanged band structure keeps its fingerprint."""
        payload = {"kpath": self.kpath_json(), "energies": self.energies_json(), "fermi_level": self.fermi_level}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def validate_segments(segments: list[Segment]) -> None:
    """Raise ``BandDataError`` unless every segment is a consistent, finite band block."""
    if not segments:
        raise BandDataError("no k-path segments")
    shape = None
    for segment in segments:
        energies, distances = segment.energies, segment.distances
        if energies.ndim != 3:
            raise BandDataError(f"segment {segment.label}: energies must be [spin][band][k], got {energies.ndim} axes")
        spins, bands, points = energies.shape
        if spins not in (1, 2):
            raise BandDataError(f"segment {segment.label}: {spins} spin channels (1 or 2 allowed)")
        if bands == 0:
            raise BandDataError(f"segment {segment.label}: no bands")
        if points < MIN_POINTS_PER_SEGMENT or distances.shape != (points,):
            raise BandDataError(f"segment {segment.label}: {points} k-points and {distances.shape[0]} distances")
        if shape is not None and (spins, bands) != shape:
            raise BandDataError(f"segment {segment.label}: {spins}x{bands} bands, other segments {shape[0]}x{shape[1]}")
        shape = (spins, bands)
        if not (np.all(np.isfinite(energies)) and np.all(np.isfinite(distances))):
            raise BandDataError(f"segment {segment.label}: non-finite energy or k-distance")
        if np.abs(energies).max() > MAX_ABS_ENERGY:
            raise BandDataError(f"segment {segment.label}: |energy| above {MAX_ABS_ENERGY:g} eV")
        if np.any(np.diff(distances) < 0):
            raise BandDataError(f"segment {segment.label}: k-distances decrease along the segment")
        if distances[-1] - distances[0] <= 0:
            raise BandDataError(f"segment {segment.label}: zero length")


def segments_from_json(kpath: dict[str, Any], energies: dict[str, Any]) -> list[Segment]:
    """Rebuild segments from the stored ``kpath`` and ``energies`` columns."""
    return [
        Segment(start=labels[0], end=labels[1], distances=np.asarray(dist, dtype=float), energies=np.asarray(e, dtype=float))
        for labels, dist, e in zip(kpath["labels"], kpath["distances"], energies["segments"], strict=True)
    ]
