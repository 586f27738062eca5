"""The picture of a band structure: the bands within ±4 eV of a reference energy on a fixed grid.

Following elf (Pentz et al.), a band structure is drawn as an image, one
(``ENERGY_PIXELS``, ``SEGMENT_WIDTH``) picture per high-symmetry segment, which the
fingerprint model (``atlas2d.embeddings.bands.model``) encodes. What makes equal band
structures give equal pictures is built in here:

- energy reference: mid-gap for an insulator (any Fermi level inside the gap gives the
  same picture), the Fermi level for a metal; so a constant shift of all energies and of
  E_F changes nothing;
- k-point density and path length: every high-symmetry segment is resampled onto
  ``SEGMENT_WIDTH`` columns by its own k-distance, so only the shape along it counts.

Only numpy: the gap and the picture need no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from atlas2d.ingest.band_records import Segment

ENERGY_WINDOW = 4.0
"""eV either side of the reference energy that the picture covers."""

ENERGY_PIXELS = 64
"""Rows of the picture (0.125 eV per row)."""

SEGMENT_WIDTH = 32
"""Columns every high-symmetry segment is resampled to."""

SUPERSAMPLE = 4
"""Sub-columns per column, so steep bands draw as continuous lines."""

LINE_SIGMA = 1.0
"""Gaussian half-width of a drawn band, in rows."""

GAP_THRESHOLD = 0.05
"""eV. A smaller separation between the last filled and first empty state is a metal."""


def band_edges(segments: Sequence[Segment], fermi_level: float) -> tuple[float, float] | None:
    """(VBM, CBM) when no band crosses E_F and states lie on both sides, else None (a metal)."""
    energies = np.concatenate([s.energies.reshape(-1) for s in segments])
    below, above = energies[energies <= fermi_level], energies[energies > fermi_level]
    crossing = any(
        (band.min() <= fermi_level < band.max())
        for s in segments
        for band in s.energies.reshape(-1, s.energies.shape[-1])
    )
    if crossing or below.size == 0 or above.size == 0:
        return None
    return float(below.max()), float(above.min())


def band_gap(segments: Sequence[Segment], fermi_level: float) -> float:
    """The gap along the path in eV (0 for a metal or a gap below ``GAP_THRESHOLD``)."""
    edges = band_edges(segments, fermi_level)
    gap = 0.0 if edges is None else edges[1] - edges[0]
    return gap if gap > GAP_THRESHOLD else 0.0


def reference_energy(segments: Sequence[Segment], fermi_level: float) -> float:
    """Mid-gap if no band crosses E_F and the gap exceeds ``GAP_THRESHOLD``, else E_F."""
    edges = band_edges(segments, fermi_level)
    if edges is None or edges[1] - edges[0] <= GAP_THRESHOLD:
        return float(fermi_level)
    return (edges[0] + edges[1]) / 2


def rasterise(segments: Sequence[Segment], fermi_level: float) -> np.ndarray:
    """The picture of a band structure: (segments, ``ENERGY_PIXELS``, ``SEGMENT_WIDTH``) in [0, 1].

    Row 0 is the bottom of the window. Spin channels are drawn into the same picture.
    """
    reference = reference_energy(segments, fermi_level)
    rows = np.linspace(-ENERGY_WINDOW, ENERGY_WINDOW, ENERGY_PIXELS)
    step = rows[1] - rows[0]
    pictures = np.empty((len(segments), ENERGY_PIXELS, SEGMENT_WIDTH), dtype=np.float32)
    for n, segment in enumerate(segments):
        d = segment.distances
        u = np.linspace(d[0], d[-1], SEGMENT_WIDTH * SUPERSAMPLE)
        flat = segment.energies.reshape(-1, d.size) - reference
        inside = (flat.max(axis=1) > -ENERGY_WINDOW - 4 * step) & (flat.min(axis=1) < ENERGY_WINDOW + 4 * step)
        picture = np.zeros((ENERGY_PIXELS, u.size))
        for band in flat[inside]:
            e = np.interp(u, d, band)
            picture += np.exp(-0.5 * ((rows[:, None] - e[None, :]) / (LINE_SIGMA * step)) ** 2)
        picture = np.minimum(picture, 1.0)
        pictures[n] = picture.reshape(ENERGY_PIXELS, SEGMENT_WIDTH, SUPERSAMPLE).mean(axis=2)
    return pictures
