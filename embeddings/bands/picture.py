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

LINE_REACH = 5
"""Rows either side of a band's centre that its line is drawn on (5 half-widths)."""

GAP_THRESHOLD = 0.05
"""eV. A smaller separation between the last filled and first empty state is a metal."""


def band_edges(segments: Sequence[Segment], fermi_level: float) -> tuple[float, float] | None:
    """(VBM, CBM) when no band crosses E_F and states lie on both sides, else None (a metal)."""
    flats = [s.energies.reshape(-1, s.distances.size) for s in segments]
    lows = np.concatenate([f.min(axis=1) for f in flats])
    highs = np.concatenate([f.max(axis=1) for f in flats])
    crossing = bool(((lows <= fermi_level) & (fermi_level < highs)).any())
    below, above = highs[highs <= fermi_level], lows[lows > fermi_level]
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

    Row 0 is the bottom of the window. Spin channels are drawn into the same picture. Each
    band is a Gaussian line of half-width ``LINE_SIGMA`` rows, cut at ``LINE_REACH`` rows
    (beyond it a line adds under 4e-6), and every band is drawn at once: the rows a line
    touches are added up with one ``bincount`` per segment instead of evaluating every band
    on every row.
    """
    reference = reference_energy(segments, fermi_level)
    step = 2 * ENERGY_WINDOW / (ENERGY_PIXELS - 1)
    columns = SEGMENT_WIDTH * SUPERSAMPLE
    lines, owners = [], []
    for n, segment in enumerate(segments):
        d = segment.distances
        flat = segment.energies.reshape(-1, d.size) - reference
        flat = flat[(flat.max(axis=1) > -ENERGY_WINDOW - LINE_REACH * step) & (flat.min(axis=1) < ENERGY_WINDOW + LINE_REACH * step)]
        u = np.linspace(d[0], d[-1], columns)
        right = np.clip(np.searchsorted(d, u, side="right"), 1, d.size - 1)
        weight = np.clip((u - d[right - 1]) / np.maximum(d[right] - d[right - 1], 1e-300), 0.0, 1.0)
        lines.append(flat[:, right - 1] * (1 - weight) + flat[:, right] * weight)
        owners.append(np.full(flat.shape[0], n))
    rows = (np.concatenate(lines) + ENERGY_WINDOW) / step
    touched = np.rint(rows)[:, :, None] + np.arange(-LINE_REACH, LINE_REACH + 1)
    value = np.exp(-0.5 * ((touched - rows[:, :, None]) / LINE_SIGMA) ** 2)
    keep = (touched >= 0) & (touched < ENERGY_PIXELS)
    cells = (np.concatenate(owners)[:, None, None] * ENERGY_PIXELS + touched.astype(np.int64)) * columns + np.arange(columns)[None, :, None]
    size = len(segments) * ENERGY_PIXELS * columns
    picture = np.minimum(np.bincount(cells[keep], weights=value[keep], minlength=size), 1.0)
    return (picture.reshape(-1, SUPERSAMPLE) @ np.full(SUPERSAMPLE, 1 / SUPERSAMPLE)).astype(np.float32).reshape(
        len(segments), ENERGY_PIXELS, SEGMENT_WIDTH
    )
