"""Split a k-path given as points and special-point positions into ``Segment`` objects."""

from __future__ import annotations

import numpy as np

from atlas2d.ingest.band_records import BandDataError, Segment

GREEK = {"G": "Γ", "GAMMA": "Γ", "\\GAMMA": "Γ", "\\Gamma": "Γ"}


def label(name: str) -> str:
    """A special-point name as written on band plots (``G`` and ``\\Gamma`` as ``Γ``)."""
    name = name.strip()
    return GREEK.get(name, GREEK.get(name.upper(), name))


def split(distances: np.ndarray, energies: np.ndarray, marks: list[tuple[int, str]]) -> list[Segment]:
    """Segments between consecutive marked k-point indices.

    ``distances``: cumulative k-distance per point (1/Å); ``energies``: [spin][band][k] (eV);
    ``marks``: (index, label) of the special points in path order. Two marks on adjacent
    indices with a jump between them are a path break (``X|U``): no segment spans it.
    """
    if len(marks) < 2:
        raise BandDataError("fewer than two special points on the k-path")
    segments = []
    for (i, start), (j, end) in zip(marks, marks[1:], strict=False):
        if j - i < 1 or distances[j] - distances[i] <= 0:
            continue
        piece = distances[i : j + 1] - distances[i]
        segments.append(Segment(start=label(start), end=label(end), distances=piece, energies=energies[:, :, i : j + 1]))
    if not segments:
        raise BandDataError("no k-path segment of non-zero length")
    return segments


def cumulative(cartesian_k: np.ndarray, breaks: set[int] | None = None) -> np.ndarray:
    """Cumulative distance along k-points (no distance is added across a path break index)."""
    steps = np.linalg.norm(np.diff(cartesian_k, axis=0), axis=1)
    for index in breaks or ():
        if 0 < index < len(cartesian_k):
            steps[index - 1] = 0.0
    return np.concatenate([[0.0], np.cumsum(steps)])
