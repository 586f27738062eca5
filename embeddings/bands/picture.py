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


RASTER_CHUNK = 64
"""Band structures drawn together by ``rasterise_many`` (64 keeps the work arrays near 10 MB)."""


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
    (beyond it a line adds under 4e-6). One band structure through ``rasterise_many``; draw
    many at once with that, which is several times faster per band structure.
    """
    return rasterise_many([(segments, fermi_level)])[0]


def rasterise_many(band_structures: Sequence[tuple[Sequence[Segment], float]], chunk: int = RASTER_CHUNK) -> list[np.ndarray]:
    """The pictures of many (segments, Fermi level) band structures, as ``rasterise`` draws each.

    A band structure has a few segments of a few bands each, so drawing them one by one
    spends its time in numpy's per-call overhead, not in arithmetic. Here every line of
    ``chunk`` band structures (band × spin × segment) is handled in the same numpy calls:
    reference energies by ``reduceat`` over all lines, the resampling onto the columns by
    one ``searchsorted`` over all segments laid end to end, and the drawing by one
    ``bincount`` into all pictures.
    """
    pictures: list[np.ndarray] = []
    for lo in range(0, len(band_structures), chunk):
        pictures.extend(_draw(band_structures[lo : lo + chunk]))
    return pictures


def _draw(band_structures: Sequence[tuple[Sequence[Segment], float]]) -> list[np.ndarray]:
    """``rasterise_many`` for one chunk."""
    segments = [s for segs, _ in band_structures for s in segs]
    counts = np.array([len(segs) for segs, _ in band_structures])
    fermi = np.array([float(f) for _, f in band_structures])
    points = np.array([s.distances.size for s in segments])
    flats = [s.energies.reshape(-1, s.distances.size) for s in segments]
    values = np.concatenate([f.ravel() for f in flats])
    line_segment = np.repeat(np.arange(len(segments)), [f.shape[0] for f in flats])
    line_owner = np.repeat(np.arange(len(band_structures)), counts)[line_segment]
    line_start = np.concatenate([[0], np.cumsum(points[line_segment])[:-1]])
    lows, highs = np.minimum.reduceat(values, line_start), np.maximum.reduceat(values, line_start)
    reference = _references(lows, highs, line_owner, fermi)[line_owner]
    step = 2 * ENERGY_WINDOW / (ENERGY_PIXELS - 1)
    shown = (highs - reference > -ENERGY_WINDOW - LINE_REACH * step) & (lows - reference < ENERGY_WINDOW + LINE_REACH * step)
    left, right, weight = _resampling(segments, points)
    line_segment, line_start, reference = line_segment[shown], line_start[shown], reference[shown]
    before = values[line_start[:, None] + left[line_segment]] - reference[:, None]
    after = values[line_start[:, None] + right[line_segment]] - reference[:, None]
    lines = before * (1 - weight[line_segment]) + after * weight[line_segment]
    columns = SEGMENT_WIDTH * SUPERSAMPLE
    rows = (lines + ENERGY_WINDOW) / step
    centre = np.rint(rows)
    value = _line_profile(centre - rows)
    # Each (line, column) adds its 2·LINE_REACH+1 values to consecutive rows of a column
    # padded by ``pad`` rows either side, so no value needs a bounds check: a centre far
    # outside the window is clamped to where all its rows fall into the padding.
    margin = LINE_REACH + 1
    pad = margin + LINE_REACH
    height = ENERGY_PIXELS + 2 * pad
    column = line_segment[:, None] * columns + np.arange(columns)
    first = np.clip(centre, -margin, ENERGY_PIXELS - 1 + margin).astype(np.int64) + margin + column * height
    cells = first[:, :, None] + np.arange(2 * LINE_REACH + 1)
    summed = np.bincount(cells.ravel(), weights=value.ravel(), minlength=len(segments) * columns * height).astype(np.float64, copy=False)
    capped = np.minimum(summed, 1.0, out=summed).reshape(len(segments), SEGMENT_WIDTH, SUPERSAMPLE, height)
    drawn = (capped.sum(axis=2)[:, :, pad : pad + ENERGY_PIXELS] / SUPERSAMPLE).astype(np.float32).transpose(0, 2, 1)
    return np.split(np.ascontiguousarray(drawn), np.cumsum(counts)[:-1])


def _line_profile(offset: np.ndarray) -> np.ndarray:
    """exp(-½((k + offset)/``LINE_SIGMA``)²) for k = -``LINE_REACH`` … ``LINE_REACH`` on a new last axis (offset in rows).

    Two exponentials instead of 2·LINE_REACH+1: each neighbour's value is the previous one's
    times exp(∓offset/σ²)·exp(-(k-½)/σ²), the same numbers to a few units in the last place.
    """
    inverse = 1.0 / LINE_SIGMA**2
    centre = np.exp(-0.5 * offset * offset * inverse)
    rising, falling = np.exp(-offset * inverse), np.exp(offset * inverse)
    profile = np.empty(offset.shape + (2 * LINE_REACH + 1,))
    profile[..., LINE_REACH] = centre
    up, down = centre.copy(), centre.copy()
    for k in range(1, LINE_REACH + 1):
        up *= rising * np.exp(-(k - 0.5) * inverse)
        down *= falling * np.exp(-(k - 0.5) * inverse)
        profile[..., LINE_REACH + k], profile[..., LINE_REACH - k] = up, down
    return profile


def _references(lows: np.ndarray, highs: np.ndarray, owner: np.ndarray, fermi: np.ndarray) -> np.ndarray:
    """``reference_energy`` of every band structure from its lines' lowest and highest energies."""
    count = fermi.size
    level = fermi[owner]
    crossing = np.bincount(owner, weights=(lows <= level) & (level < highs), minlength=count) > 0
    vbm, cbm = np.full(count, -np.inf), np.full(count, np.inf)
    below, above = highs <= level, lows > level
    np.maximum.at(vbm, owner[below], highs[below])
    np.minimum.at(cbm, owner[above], lows[above])
    gapped = ~crossing & np.isfinite(vbm) & np.isfinite(cbm) & (cbm - vbm > GAP_THRESHOLD)
    return np.where(gapped, (vbm + cbm) / 2, fermi)


def _resampling(segments: Sequence[Segment], points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every segment and column: the k-points either side of it (indices within the segment) and the right one's weight.

    The segments' k-distances are laid end to end (each shifted to start one unit after the
    previous one ends) so that a single ``searchsorted`` finds the columns of all of them.
    """
    columns = SEGMENT_WIDTH * SUPERSAMPLE
    distances = np.concatenate([s.distances for s in segments]).astype(np.float64)
    first = np.concatenate([[0], np.cumsum(points)[:-1]])
    start, end = distances[first], distances[first + points - 1]
    shift = np.concatenate([[0.0], np.cumsum(end - start + 1.0)[:-1]]) - start
    u = np.linspace(start, end, columns, axis=1)
    k_segment = np.repeat(np.arange(len(segments)), points)
    right = np.searchsorted(distances + shift[k_segment], (u + shift[:, None]).ravel(), side="right").reshape(u.shape) - first[:, None]
    right = np.clip(right, 1, np.maximum(points - 1, 1)[:, None])
    left = np.minimum(right - 1, (points - 1)[:, None])
    right = np.minimum(right, (points - 1)[:, None])
    lower, upper = distances[first[:, None] + left], distances[first[:, None] + right]
    weight = np.clip((u - lower) / np.maximum(upper - lower, 1e-300), 0.0, 1.0)
    return left, right, weight
