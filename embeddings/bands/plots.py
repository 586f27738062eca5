"""Pictures for people: band structures side by side, and a 2D map of all fingerprints.

The map is a PCA projection (computed here with numpy's SVD, so it is deterministic and
needs no extra dependency): the first two principal axes of the stored fingerprints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atlas2d.embeddings.bands.picture import ENERGY_WINDOW, reference_energy
from atlas2d.ingest.band_records import Segment


@dataclass(frozen=True)
class BandPanel:
    """One band structure to draw, with its panel title."""

    title: str
    segments: list[Segment]
    fermi_level: float


def project_2d(fingerprints: np.ndarray) -> np.ndarray:
    """(n, 2) coordinates on the first two principal axes; signs fixed so the result is stable."""
    if fingerprints.shape[0] < 2:
        raise ValueError("a map needs at least two fingerprints")
    centred = fingerprints - fingerprints.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    axes = axes[:2]
    axes *= np.sign(axes[np.arange(axes.shape[0]), np.abs(axes).argmax(axis=1)])[:, None]
    xy = centred @ axes.T
    return xy if xy.shape[1] == 2 else np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))


def plot_band_panels(panels: Sequence[BandPanel], out: Path, columns: int = 4) -> None:
    """Draw each band structure (±``ENERGY_WINDOW`` eV about its reference) in a grid of panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = (len(panels) + columns - 1) // columns
    width = min(columns, len(panels))
    fig, axes = plt.subplots(rows, width, figsize=(3.0 * width, 3.2 * rows), squeeze=False, sharey=True)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        reference = reference_energy(panel.segments, panel.fermi_level)
        offset, ticks, labels = 0.0, [0.0], [panel.segments[0].start]
        for segment in panel.segments:
            x = offset + segment.distances - segment.distances[0]
            for band in segment.energies.reshape(-1, segment.distances.size):
                ax.plot(x, band - reference, color="tab:blue", lw=0.9)
            offset = float(x[-1])
            ticks.append(offset)
            labels.append(segment.end)
            ax.axvline(offset, color="0.7", lw=0.5)
        ax.axhline(0.0, color="tab:red", lw=0.6, ls="--")
        ax.set_xticks(ticks, labels)
        ax.set_xlim(0.0, offset)
        ax.set_ylim(-ENERGY_WINDOW, ENERGY_WINDOW)
        ax.set_title(panel.title, fontsize=8)
    axes[0, 0].set_ylabel("E - E_ref (eV)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_map(xy: np.ndarray, values: Sequence[float] | Sequence[str], label: str, out: Path, title: str) -> None:
    """Scatter the projected fingerprints, coloured by a number (colour bar) or a category (legend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 5.5))
    if values and isinstance(values[0], str):
        names = sorted(set(values))
        cmap = plt.get_cmap("tab10")
        for i, name in enumerate(names):
            mask = np.array([v == name for v in values])
            ax.scatter(xy[mask, 0], xy[mask, 1], s=10, color=cmap(i % 10), label=name, alpha=0.8)
        ax.legend(title=label, fontsize=8, markerscale=1.5)
    else:
        points = ax.scatter(xy[:, 0], xy[:, 1], s=10, c=np.asarray(values, dtype=float), cmap="viridis", alpha=0.8)
        fig.colorbar(points, ax=ax, label=label)
    ax.set_xlabel("principal axis 1")
    ax.set_ylabel("principal axis 2")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
